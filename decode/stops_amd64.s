//go:build amd64 && !purego

#include "textflag.h"

// func stopWordsSSE2(dst []uint64, b []byte)
//
// Sixteen bytes per step with SSE2 (every amd64 has it), four steps per
// 64-bit word: a byte is a stop when it equals '"' or '\\' (PCMPEQB), or
// when 0x20 > it as a signed byte (PCMPGTB), which holds for the control
// characters and for every byte with its high bit set.
TEXT ·stopWordsSSE2(SB), NOSPLIT, $0-48
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

// func stopWordsAVX2(dst []uint64, b []byte)
//
// The same, 32 bytes per step.
TEXT ·stopWordsAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ b_base+24(FP), SI
	TESTQ CX, CX
	JZ   avxdone
	MOVQ $0x22, AX
	VMOVQ AX, X1
	VPBROADCASTB X1, Y1
	MOVQ $0x5c, AX
	VMOVQ AX, X2
	VPBROADCASTB X2, Y2
	MOVQ $0x20, AX
	VMOVQ AX, X3
	VPBROADCASTB X3, Y3

avxloop:
	VMOVDQU 0(SI), Y0
	VPCMPEQB Y0, Y1, Y4
	VPCMPEQB Y0, Y2, Y5
	VPCMPGTB Y0, Y3, Y6
	VPOR Y4, Y5, Y4
	VPOR Y4, Y6, Y4
	VPMOVMSKB Y4, AX

	VMOVDQU 32(SI), Y0
	VPCMPEQB Y0, Y1, Y4
	VPCMPEQB Y0, Y2, Y5
	VPCMPGTB Y0, Y3, Y6
	VPOR Y4, Y5, Y4
	VPOR Y4, Y6, Y4
	VPMOVMSKB Y4, BX
	SHLQ $32, BX
	ORQ  BX, AX

	MOVQ AX, (DI)
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  avxloop
	VZEROUPPER

avxdone:
	RET
