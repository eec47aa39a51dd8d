/*
 * A Windows program that misbehaves on purpose, for the Wine check's test
 * of its own bounds (TestHarnessBoundsWineProcesses): "grow" allocates and
 * touches memory without end, as the old uninstall's store walk did; "hang"
 * never ends. Test-only, never shipped.
 *
 *   x86_64-w64-mingw32-gcc -O2 -s -o runaway.exe runaway.c
 */
#include <windows.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "grow") == 0) {
		for (;;) {
			char *p = VirtualAlloc(NULL, 64 << 20, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
			if (p == NULL)
				Sleep(10);
			else
				memset(p, 1, 64 << 20);
		}
	}
	Sleep(INFINITE);
	return 0;
}
