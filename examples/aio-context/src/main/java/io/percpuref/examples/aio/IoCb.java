package io.percpuref.examples.aio;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * One I/O request, the Java shape of the kernel's {@code struct iocb}: an opcode, a file offset,
 * the user buffer and a completion callback in place of {@code aio_data} and the event ring.
 *
 * <p>For {@link Opcode#PWRITE} the buffer holds the bytes to write; for {@link Opcode#PREAD} it
 * receives the bytes read, filled before {@code onEvent} is called. The buffer must not be
 * touched between {@code io_submit} and the event, as with the kernel's user buffers.
 *
 * @param opcode  read or write
 * @param offset  file position of the first byte
 * @param buffer  the user buffer; its whole length is transferred
 * @param onEvent called exactly once with the completion event, on an I/O thread, while the
 *                request still holds its reference on the context
 */
public record IoCb(Opcode opcode, long offset, byte[] buffer, Consumer<? super IoEvent> onEvent) {

    /** {@code IOCB_CMD_PREAD} and {@code IOCB_CMD_PWRITE}. */
    public enum Opcode {
        /** Positional read into {@link IoCb#buffer()}. */
        PREAD,
        /** Positional write of {@link IoCb#buffer()}. */
        PWRITE
    }

    /**
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if {@code offset} is negative
     */
    public IoCb {
        Objects.requireNonNull(opcode, "opcode");
        Objects.requireNonNull(buffer, "buffer");
        Objects.requireNonNull(onEvent, "onEvent");
        if (offset < 0) {
            throw new IllegalArgumentException("iocb offset must not be negative, was " + offset);
        }
    }

    /** A read of {@code buffer.length} bytes at {@code offset}. */
    public static IoCb pread(long offset, byte[] buffer, Consumer<? super IoEvent> onEvent) {
        return new IoCb(Opcode.PREAD, offset, buffer, onEvent);
    }

    /** A write of {@code buffer} at {@code offset}. */
    public static IoCb pwrite(long offset, byte[] buffer, Consumer<? super IoEvent> onEvent) {
        return new IoCb(Opcode.PWRITE, offset, buffer, onEvent);
    }
}
