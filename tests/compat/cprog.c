/* cprog.c - a C program for real mode, built with gcc -m16 and booted from a disk image: it calls the BIOS with inline int instructions. */
/*
 * What people write when they want C on bare metal without a loader of
 * their own: freestanding, no library, a BIOS call per output character.
 * It prints through int 14h (so QEMU + SeaBIOS and kvmlite can be compared
 * on COM1), reads int 11h and int 12h, and computes a little.
 */
extern unsigned char boot_drive;

static void putc(char c)
{
	unsigned short ax = 0x0100 | (unsigned char)c; /* int 14h AH=1: send AL on COM1 */

	__asm__ volatile("int $0x14" : "+a"(ax) : "d"(0) : "memory", "cc");
}

static void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

static void putu(unsigned long v)
{
	char buf[12];
	int n = 0;

	do
		buf[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		putc(buf[--n]);
}

static unsigned short bios_int11(void)
{
	unsigned short ax;

	__asm__ volatile("int $0x11" : "=a"(ax) : : "cc");
	return ax;
}

static unsigned short bios_int12(void)
{
	unsigned short ax;

	__asm__ volatile("int $0x12" : "=a"(ax) : : "cc");
	return ax;
}

static int is_prime(unsigned n)
{
	for (unsigned d = 2; d * d <= n; d++)
		if (n % d == 0)
			return 0;
	return n > 1;
}

void cmain(void)
{
	unsigned long fib[2] = { 0, 1 };

	puts("hello from C, booted from drive ");
	putu(boot_drive);
	puts("\nconventional memory ");
	putu(bios_int12());
	puts(" KiB, equipment ");
	putu(bios_int11() & 0x0e00);
	puts("\nprimes:");
	for (unsigned n = 0; n < 60; n++)
		if (is_prime(n)) {
			putc(' ');
			putu(n);
		}
	puts("\nfib(40) = ");
	for (int i = 0; i < 40; i++) {
		unsigned long t = fib[0] + fib[1];

		fib[0] = fib[1];
		fib[1] = t;
	}
	putu(fib[0]);
	putc('\n');
}
