//go:build linux || darwin || freebsd

#include "textflag.h"

// call15 is called by runtime·cgocall on the system stack with the C
// calling convention: DI points to a callBlock {fn, a1 … a15}. It passes
// a1 … a6 in DI, SI, DX, CX, R8, R9 and a7 … a15 on the stack (System V
// AMD64 ABI), and calls fn. Only caller-saved registers are used.
GLOBL ·call15ABI0(SB), NOPTR|RODATA, $8
DATA ·call15ABI0(SB)/8, $dream_fastblas_call15(SB)
TEXT dream_fastblas_call15(SB), NOSPLIT|NOFRAME, $0
	PUSHQ BP
	MOVQ  SP, BP
	SUBQ  $80, SP // nine stack arguments, 16-byte aligned
	MOVQ  DI, R11

	MOVQ 56(R11), AX
	MOVQ AX, 0(SP)
	MOVQ 64(R11), AX
	MOVQ AX, 8(SP)
	MOVQ 72(R11), AX
	MOVQ AX, 16(SP)
	MOVQ 80(R11), AX
	MOVQ AX, 24(SP)
	MOVQ 88(R11), AX
	MOVQ AX, 32(SP)
	MOVQ 96(R11), AX
	MOVQ AX, 40(SP)
	MOVQ 104(R11), AX
	MOVQ AX, 48(SP)
	MOVQ 112(R11), AX
	MOVQ AX, 56(SP)
	MOVQ 120(R11), AX
	MOVQ AX, 64(SP)

	MOVQ 8(R11), DI
	MOVQ 16(R11), SI
	MOVQ 24(R11), DX
	MOVQ 32(R11), CX
	MOVQ 40(R11), R8
	MOVQ 48(R11), R9
	MOVQ 0(R11), R10
	XORL AX, AX // no vector registers used (for variadic callees)
	CALL R10

	MOVQ BP, SP
	POPQ BP
	RET
