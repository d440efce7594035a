package io.percpuref.registry;

import java.util.Arrays;

/**
 * Where a tracked lease was acquired. Captured cheaply at acquire time (the JVM records the
 * backtrace natively; the message is formatted only when read); its frames are materialized and
 * the leading frames of the lease machinery dropped only when a report needs them, so the printed
 * trace starts at the caller's {@code acquire()}/{@code tryAcquire()}/{@code retain()} line, or at
 * the proxy frame of a {@code @Guarded} method (the next frame is the line that called it).
 */
final class AcquisitionTrace extends Throwable {

    private static final long serialVersionUID = 1L;
    /** The Spring starter's guard package: it acquires the leases of guarded calls. */
    private static final String STARTER_PACKAGE = "io.percpuref.spring.guard.";

    private final String refName;
    private final String threadName;
    /** Whether the leading internal frames have been dropped; set once, by whichever reporter gets here first. */
    private volatile boolean trimmed;

    AcquisitionTrace(String refName, String threadName) {
        this.refName = refName;
        this.threadName = threadName;
    }

    /** For example {@code lease of resource 'aio-ctx-7' acquired by thread 'worker-3'}. */
    @Override
    public String getMessage() {
        return "lease of resource '" + refName + "' acquired by thread '" + threadName + "'";
    }

    /** This trace with the registry's own frames (lease construction, acquire) removed from the top. */
    AcquisitionTrace trimmed() {
        if (!trimmed) {
            StackTraceElement[] frames = getStackTrace();
            int first = 0;
            while (first < frames.length && isInternal(frames[first])) {
                first++;
            }
            setStackTrace(Arrays.copyOfRange(frames, first, frames.length));
            trimmed = true;
        }
        return this;
    }

    /**
     * Whether a leading frame belongs to the lease machinery rather than to the caller: the
     * registry's own lease classes, and for a {@code @Guarded} call the starter's guard and Spring
     * AOP's invocation frames above the proxy. The proxy's frame (for example
     * {@code Shards$$SpringCGLIB$$0.get}) is kept: it names the guarded method, and the frame below
     * it is the line that called it. Only leading frames are dropped, so no frame below the first
     * caller frame is ever hidden.
     */
    private static boolean isInternal(StackTraceElement frame) {
        String c = frame.getClassName();
        // RefRegistry.acquire(name) and CurrentHolder.acquire() lease on the caller's behalf too.
        return c.equals(ManagedEntry.class.getName()) || c.equals(RefLease.class.getName())
                || c.equals(RefLease.Tracked.class.getName())
                || c.equals(LeakRecord.class.getName()) || c.equals(AcquisitionTrace.class.getName())
                || c.equals(RefRegistry.class.getName()) || c.equals(CurrentHolder.class.getName())
                || c.startsWith(STARTER_PACKAGE) || c.startsWith("org.springframework.aop.");
    }
}
