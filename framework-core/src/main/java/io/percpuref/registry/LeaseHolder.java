package io.percpuref.registry;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * A tracked lease that was still open when an {@link OpenLeases} or a {@link ShutdownReport} was
 * made: who holds up the resource's release. Only tracked leases appear: those that leak detection
 * ({@link LeakDetection}) tracks, and every lease a resource hands out after its kill; leases that
 * leaked are reported per acquisition site instead ({@link LeakSite}).
 *
 * @param refName          the name of the resource the lease is on
 * @param acquiredBy       the name of the thread that acquired the lease
 * @param acquisitionTrace where the lease was acquired (stack trace starts at the acquire call)
 * @param heldFor          how long the lease had been held when the report was made
 */
public record LeaseHolder(String refName, String acquiredBy, Throwable acquisitionTrace, Duration heldFor) {

    /** @throws NullPointerException if any component other than {@code acquisitionTrace} is null */
    public LeaseHolder {
        Objects.requireNonNull(refName, "refName");
        Objects.requireNonNull(acquiredBy, "acquiredBy");
        Objects.requireNonNull(heldFor, "heldFor");
    }

    /**
     * The acquisition site: the first frame of {@link #acquisitionTrace()}, which is the caller's
     * {@code acquire()}/{@code tryAcquire()}/{@code retain()} line, outside this library (for a
     * {@code @Guarded} call of the Spring starter, the guarded method's proxy frame; the next frame
     * is its caller). Empty without a trace.
     */
    public Optional<StackTraceElement> site() {
        if (acquisitionTrace == null) {
            return Optional.empty();
        }
        StackTraceElement[] frames = acquisitionTrace.getStackTrace();
        return frames.length == 0 ? Optional.empty() : Optional.of(frames[0]);
    }
}
