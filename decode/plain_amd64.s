#include "textflag.h"

// func plainPrefix(b []byte) int
//
// Sixteen bytes per step (SSE2, every amd64 has it): a byte needs a closer
// look when it is '"' or '\\' (PCMPEQB), a control character (min(x, 0x1f)
// == x) or non-ASCII (its high bit, which PMOVMSKB collects directly).
TEXT ·plainPrefix(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX
	MOVQ SI, DI
	LEAQ -16(SI)(BX*1), R8 // last start of a whole 16-byte block
	MOVQ $0x2222222222222222, AX
	MOVQ AX, X1
	PUNPCKLQDQ X1, X1
	MOVQ $0x5c5c5c5c5c5c5c5c, AX
	MOVQ AX, X2
	PUNPCKLQDQ X2, X2
	MOVQ $0x1f1f1f1f1f1f1f1f, AX
	MOVQ AX, X3
	PUNPCKLQDQ X3, X3

loop:
	CMPQ SI, R8
	JGT  short
	MOVOU (SI), X0
	MOVO X0, X4
	PCMPEQB X1, X4
	MOVO X0, X5
	PCMPEQB X2, X5
	MOVO X0, X6
	PMINUB X3, X6
	PCMPEQB X0, X6
	POR  X5, X4
	POR  X6, X4
	POR  X0, X4
	PMOVMSKB X4, AX
	TESTL AX, AX
	JNZ  found
	ADDQ $16, SI
	JMP  loop

found:
	BSFL AX, AX
	SUBQ DI, SI
	ADDQ AX, SI
	MOVQ SI, ret+24(FP)
	RET

short:
	SUBQ DI, SI
	MOVQ SI, ret+24(FP)
	RET
