package io.percpuref.registry;

import java.time.Duration;
import java.util.Objects;

/**
 * A tracked lease that was still open when a {@link ShutdownReport} was made: who holds up the
 * resource's release. Only leases tracked by leak detection ({@link LeakDetection}) appear; leases
 * that leaked are reported per acquisition site instead ({@link LeakSite}).
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
}
