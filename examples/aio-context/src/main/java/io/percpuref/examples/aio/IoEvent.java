package io.percpuref.examples.aio;

/**
 * The completion of one {@link IoCb}, the Java shape of the kernel's {@code struct io_event}.
 *
 * @param contextId the context the request was submitted to
 * @param iocb      the request
 * @param res       bytes transferred (a short read at end of file transfers fewer than asked)
 * @param error     why the request failed, or null if it succeeded (the kernel's negative
 *                  {@code res})
 */
public record IoEvent(long contextId, IoCb iocb, int res, Throwable error) {

    /** Whether the request succeeded. */
    public boolean ok() {
        return error == null;
    }
}
