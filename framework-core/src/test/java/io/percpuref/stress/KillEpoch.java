package io.percpuref.stress;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Lets a worker tell whether its {@code tryGetLive()} started after {@code kill()} returned, with
 * no resurrect in between: the controller publishes {@code 2 * epoch + 1} after kill returns and
 * {@code 2 * (epoch + 1)} before it resurrects or reinits. A worker that reads the same odd value
 * before and after a successful {@code tryGetLive()} has found a violation of SPEC §3.3.3: had the
 * success depended on the resurrect, the resurrect (and so the even value written before it) would
 * happen-before the second read.
 */
final class KillEpoch {

    private final AtomicLong value = new AtomicLong();

    /** Called by the controller right after kill() returned. */
    void killReturned() {
        value.incrementAndGet();
    }

    /** Called by the controller right before resurrect()/reinit(). */
    void comingBack() {
        value.incrementAndGet();
    }

    long read() {
        return value.get();
    }

    static boolean isKilled(long epoch) {
        return (epoch & 1) == 1;
    }
}
