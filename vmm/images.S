/* images.S - the firmware and the built-in guests, linked into the kvmlite binary so it runs from anywhere. */
	.section .rodata
	.macro image name, file
	.global image_\name, image_\name\()_end
	.balign 16
image_\name:
	.incbin "\file"
image_\name\()_end:
	.endm

	image firmware, "firmware.bin"
	image hello, "hello.img"
	image mvm, "mvm.img"
	image tick, "tick.img"
	image alarm, "alarm.img"
	image spin, "spin.img"
	image burst, "burst.img"
	image crash, "crash.img"

	.section .note.GNU-stack, "", @progbits
