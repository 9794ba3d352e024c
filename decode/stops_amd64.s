//go:build amd64 && !purego

#include "textflag.h"

// func stopWords(dst []uint64, b []byte)
//
// Sixteen bytes per step with SSE2 (every amd64 has it), four steps per
// 64-bit word: a byte is a stop when it equals '"' or '\\' (PCMPEQB), or
// when 0x20 > it as a signed byte (PCMPGTB), which holds for the control
// characters and for every byte with its high bit set.
TEXT ·stopWords(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ b_base+24(FP), SI
	TESTQ CX, CX
	JZ   done
	MOVQ $0x2222222222222222, AX
	MOVQ AX, X1
	PUNPCKLQDQ X1, X1
	MOVQ $0x5c5c5c5c5c5c5c5c, AX
	MOVQ AX, X2
	PUNPCKLQDQ X2, X2
	MOVQ $0x2020202020202020, AX
	MOVQ AX, X3
	PUNPCKLQDQ X3, X3

loop:
	MOVOU 0(SI), X0
	MOVO X3, X4
	PCMPGTB X0, X4
	MOVO X0, X5
	PCMPEQB X1, X5
	PCMPEQB X2, X0
	POR  X5, X4
	POR  X0, X4
	PMOVMSKB X4, AX

	MOVOU 16(SI), X0
	MOVO X3, X4
	PCMPGTB X0, X4
	MOVO X0, X5
	PCMPEQB X1, X5
	PCMPEQB X2, X0
	POR  X5, X4
	POR  X0, X4
	PMOVMSKB X4, BX
	SHLQ $16, BX
	ORQ  BX, AX

	MOVOU 32(SI), X0
	MOVO X3, X4
	PCMPGTB X0, X4
	MOVO X0, X5
	PCMPEQB X1, X5
	PCMPEQB X2, X0
	POR  X5, X4
	POR  X0, X4
	PMOVMSKB X4, BX
	SHLQ $32, BX
	ORQ  BX, AX

	MOVOU 48(SI), X0
	MOVO X3, X4
	PCMPGTB X0, X4
	MOVO X0, X5
	PCMPEQB X1, X5
	PCMPEQB X2, X0
	POR  X5, X4
	POR  X0, X4
	PMOVMSKB X4, BX
	SHLQ $48, BX
	ORQ  BX, AX

	MOVQ AX, (DI)
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  loop

done:
	RET
