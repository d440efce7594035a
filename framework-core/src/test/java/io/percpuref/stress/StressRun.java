package io.percpuref.stress;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.percpuref.PercpuRef;

/**
 * Shared bookkeeping of the randomized stress tests: a ref whose release callback checks the
 * invariants of SPEC §3.3 (never while held, once per life), and the violations found.
 *
 * <p>Workers call {@link #acquired()} right after a successful get and {@link #releasing()} right
 * before the matching put, so {@link #held} is never more than the references really held. The
 * release callback therefore may assert {@code held == 0}: a reference counted in {@code held} is
 * still counted in the ref, and release cannot legally run while it is.
 */
final class StressRun {

    /** How long a stress test runs: {@code -Dpercpuref.stress.seconds=N} (CI keeps it short). */
    static Duration duration() {
        return Duration.ofSeconds(Long.getLong("percpuref.stress.seconds", 3));
    }

    final PercpuRef ref;
    /** References currently held by workers (excluding the initial reference). */
    final AtomicLong held = new AtomicLong();
    /** Release callbacks run so far. */
    final AtomicInteger releases = new AtomicInteger();
    /** Successful acquisitions, for the summary. */
    final AtomicLong acquisitions = new AtomicLong();
    /** Human-readable invariant violations; the test asserts this is empty. */
    final ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();

    StressRun(String name, int stripes) {
        this(name, stripes, null);
    }

    /** A run whose callbacks go to {@code callbackExecutor}, or run inline when it is null. */
    StressRun(String name, int stripes, Executor callbackExecutor) {
        PercpuRef.Builder builder = PercpuRef.builder()
                .name(name)
                .stripes(stripes)
                .allowReinit()
                .onRelease(r -> onRelease())
                .errorReporter(e -> violations.add("reported: " + e.getMessage()));
        if (callbackExecutor != null) {
            builder.callbackExecutor(callbackExecutor);
        }
        this.ref = builder.build();
    }

    private void onRelease() {
        releases.incrementAndGet();
        long h = held.get();
        if (h != 0) {
            violations.add("release ran while " + h + " references were held");
        }
        if (!ref.isZero()) {
            violations.add("release ran while the count was not zero: " + ref);
        }
    }

    void acquired() {
        held.incrementAndGet();
        acquisitions.incrementAndGet();
    }

    void releasing() {
        held.decrementAndGet();
    }

    List<String> violationList() {
        return new ArrayList<>(violations);
    }

    String summary(int lives) {
        return ref.name() + ": " + acquisitions.get() + " acquisitions over " + lives + " lives, "
                + releases.get() + " releases, " + violations.size() + " violations";
    }
}
