package io.percpuref.jcstress;

import io.percpuref.PercpuRef;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Watches one {@link PercpuRef} from outside for a jcstress test: counts its releases, the
 * references the test's actors hold right now, the releases that ran while one was held, and the
 * reports the ref made to its error reporter (over-puts found at switch time, callback failures).
 *
 * <p>Holding protocol (a Dekker pair, sequentially consistent because every access is volatile):
 * an actor calls {@link #hold()} right after it obtains a reference and {@link #unhold()} right
 * before it puts it; the release callback first counts itself, then reads {@link #held}. So a
 * release that overlaps a held reference is caught on one side or the other: the callback sees
 * {@code held > 0} (counted in {@link #releasedWhileHeld}), or the actor, reading
 * {@link #releases} after its {@code hold()}, sees the release already counted. A release between
 * a successful get and the {@code hold()} that follows is caught the second way.
 *
 * <p>Not a test: the jcstress tests in this package each own one probe per state.
 */
final class ReleaseProbe {

    /** Release callbacks run so far, over all lives of the ref. */
    final AtomicInteger releases = new AtomicInteger();
    /** References the actors hold at this moment (between hold() and unhold()). */
    final AtomicInteger held = new AtomicInteger();
    /** Release callbacks that found a reference held: each one is a broken guarantee. */
    final AtomicInteger releasedWhileHeld = new AtomicInteger();
    /** Reports to the ref's error reporter: an over-put or a lost get shows up here at switch time. */
    final AtomicInteger reports = new AtomicInteger();

    /** A builder for a ref named {@code name} whose callbacks and error reporter feed this probe. */
    PercpuRef.Builder builder(String name) {
        return PercpuRef.builder()
                .name(name)
                .onRelease(r -> onRelease())
                .errorReporter(e -> reports.incrementAndGet());
    }

    private void onRelease() {
        // Count first, then look: see the holding protocol in the class comment.
        releases.incrementAndGet();
        if (held.get() > 0) {
            releasedWhileHeld.incrementAndGet();
        }
    }

    /** Marks a reference held; call right after it was obtained. */
    void hold() {
        held.incrementAndGet();
    }

    /** Marks a reference no longer held; call right before it is put. */
    void unhold() {
        held.decrementAndGet();
    }

    /** Broken guarantees seen so far: releases while held plus error reports. Zero in a correct run. */
    int faults() {
        return releasedWhileHeld.get() + reports.get();
    }
}
