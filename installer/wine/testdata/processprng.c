/*
 * bcryptprimitives.dll for Wine 8, a test-only stand-in: Go 1.22 and later
 * get their random numbers from ProcessPrng in bcryptprimitives.dll, which
 * every Windows 10+ has and Wine 8 lacks, so without it every Go exe dies at
 * start ("bcryptprimitives.dll not found"). This exports ProcessPrng on top
 * of RtlGenRandom (advapi32's SystemFunction036), which Wine has.
 *
 * It is built by the Wine check (installer/wine) with mingw-w64 and copied
 * into the throwaway prefix's system32 only. It is never shipped: real
 * Windows has the real DLL.
 *
 *   x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll processprng.c -ladvapi32
 */
#include <windows.h>

/* RtlGenRandom's real export name; ntsecapi.h declares it only with
 * SystemFunction036 defined away, so declare it here. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* ProcessPrng always succeeds on Windows (it returns TRUE); RtlGenRandom
 * takes a ULONG, so a larger request is filled in chunks. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
	while (length > 0) {
		ULONG n = length > 0x10000000 ? 0x10000000 : (ULONG)length;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		length -= n;
	}
	return TRUE;
}
