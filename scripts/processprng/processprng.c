/*
 * bcryptprimitives.dll stub for Wine < 8.13.
 *
 * Rust >= 1.78's std imports ProcessPrng from bcryptprimitives.dll; Wine only
 * provides it from 8.13 on, so every Rust binary exits with status 53 under
 * Debian 12's Wine 8.0. This stub implements ProcessPrng with
 * SystemFunction036 (RtlGenRandom) from advapi32. It is only ever installed
 * into a Wine prefix used for testing, never shipped.
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -shared -o bcryptprimitives.dll \
 *            processprng.c processprng.def -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
