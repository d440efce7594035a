package io.percpuref.examples.aio;

/**
 * A refused {@code io_submit}/{@code io_destroy}, with the errno the kernel would return.
 *
 * <p>Refusals are expected outcomes of racing a destroy, not bugs: the workload counts them by
 * {@link #reason()}.
 */
public final class AioException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Why the call was refused. */
    public enum Reason {
        /**
         * No context is published under the id: never set up, or destroyed and unpublished
         * ({@code lookup_ioctx()} finds nothing: {@code EINVAL}).
         */
        UNKNOWN_CONTEXT("EINVAL"),
        /**
         * The context is still published but has been killed: its ref refused a new reference
         * ({@code percpu_ref_tryget_live()} failed: {@code EINVAL}).
         */
        CONTEXT_DYING("EINVAL"),
        /** Every event slot of the context is taken by a request in flight ({@code EAGAIN}). */
        RING_FULL("EAGAIN"),
        /** The request itself is malformed, for example larger than the context's block size ({@code EINVAL}). */
        BAD_REQUEST("EINVAL");

        private final String errno;

        Reason(String errno) {
            this.errno = errno;
        }

        /** The errno name the kernel returns in this case. */
        public String errno() {
            return errno;
        }
    }

    private final Reason reason;
    private final long contextId;

    AioException(Reason reason, long contextId, String message) {
        super(reason.errno() + " (" + reason + ") on aio context " + contextId + ": " + message);
        this.reason = reason;
        this.contextId = contextId;
    }

    /** Why the call was refused. */
    public Reason reason() {
        return reason;
    }

    /** The context id the call named. */
    public long contextId() {
        return contextId;
    }
}
