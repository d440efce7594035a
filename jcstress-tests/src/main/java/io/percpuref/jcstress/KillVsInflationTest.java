package io.percpuref.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.percpuref.PercpuRef;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * kill() racing the inflation of the stripe array: gets and puts that contend on {@code base}
 * inflate while kill() seals {@code base}, then either seals the stripes field (so nobody can
 * inflate behind it) or seals the stripes of the array an inflater published first (SPEC 3.3,
 * guarantee 1; "Inflation" in PercpuRef's overview comment).
 *
 * <p>Every thread starts with a reference: the killer holds the initial one and does a get and a put
 * before kill(); each contender holds a lease taken in the constructor and does
 * {@code get; put; put}, the last put dropping its lease. So when every actor has finished the
 * count is zero and the ref must have been released exactly once, in atomic mode. Outcome
 * {@code (r1, r2, r3, r4)} = (mode is ATOMIC, isZero(), releases, releases while a lease was held
 * plus error reports).
 *
 * <p><b>FORBIDDEN: anything but {@code 1, 1, 1, 0}</b>. An increment added to a stripe of an array
 * published after kill() read the stripes field would be lost: the count would reach zero while a
 * lease is held ({@code r4 > 0}) or go below zero (a put throws, a test error). A decrement lost
 * the same way would leave the count above zero: no release ({@code r2 = 0, r3 = 0}). A delta
 * counted both in a sealed slot and in the atomic count gives the same two symptoms. {@code r3 = 2}
 * is a double release.
 */
public class KillVsInflationTest {

    /** One stripe: after inflation every thread shares it, so sealing races a CAS on the same slot. */
    @JCStressTest
    @Outcome(id = "1, 1, 1, 0", expect = ACCEPTABLE, desc = "Atomic, count zero, released exactly once, never while held.")
    @Outcome(expect = FORBIDDEN, desc = "Lost or double-counted reference, release missing, twice, or while held.")
    @State
    public static class SharedStripe {
        private final ReleaseProbe probe = new ReleaseProbe();
        private final PercpuRef ref = probe.builder("kill-vs-inflation-shared").stripes(1).build();

        public SharedStripe() {
            takeLease(ref, probe);
        }

        @Actor
        public void killer() {
            getPutKill(ref);
        }

        @Actor
        public void contender() {
            getPutDropLease(ref, probe);
        }

        @Arbiter
        public void arbiter(IIII_Result r) {
            check(ref, probe, r);
        }
    }

    /** 64 stripes: after inflation the threads most likely count on different stripes. */
    @JCStressTest
    @Outcome(id = "1, 1, 1, 0", expect = ACCEPTABLE, desc = "Atomic, count zero, released exactly once, never while held.")
    @Outcome(expect = FORBIDDEN, desc = "Lost or double-counted reference, release missing, twice, or while held.")
    @State
    public static class ManyStripes {
        private final ReleaseProbe probe = new ReleaseProbe();
        private final PercpuRef ref = probe.builder("kill-vs-inflation-many").stripes(64).build();

        public ManyStripes() {
            takeLease(ref, probe);
        }

        @Actor
        public void killer() {
            getPutKill(ref);
        }

        @Actor
        public void contender() {
            getPutDropLease(ref, probe);
        }

        @Arbiter
        public void arbiter(IIII_Result r) {
            check(ref, probe, r);
        }
    }

    /**
     * Two contenders on base while a third thread kills, so an inflation can be under way exactly
     * when kill() seals. Needs three CPUs to run truly in parallel; on fewer, jcstress time-shares.
     */
    @JCStressTest
    @Outcome(id = "1, 1, 1, 0", expect = ACCEPTABLE, desc = "Atomic, count zero, released exactly once, never while held.")
    @Outcome(expect = FORBIDDEN, desc = "Lost or double-counted reference, release missing, twice, or while held.")
    @State
    public static class TwoContenders {
        private final ReleaseProbe probe = new ReleaseProbe();
        private final PercpuRef ref = probe.builder("kill-vs-inflation-two").stripes(2).build();

        public TwoContenders() {
            takeLease(ref, probe);
            takeLease(ref, probe);
        }

        @Actor
        public void killer() {
            ref.kill();
        }

        @Actor
        public void contender1() {
            getPutDropLease(ref, probe);
        }

        @Actor
        public void contender2() {
            getPutDropLease(ref, probe);
        }

        @Arbiter
        public void arbiter(IIII_Result r) {
            check(ref, probe, r);
        }
    }

    static void takeLease(PercpuRef ref, ReleaseProbe probe) {
        ref.get();
        probe.hold();
    }

    /** The creator's thread: a get and a put that may contend on base, then kill(). */
    static void getPutKill(PercpuRef ref) {
        ref.get();
        ref.put();
        ref.kill();
    }

    static void getPutDropLease(PercpuRef ref, ReleaseProbe probe) {
        ref.get();
        ref.put();
        probe.unhold();
        ref.put();
    }

    static void check(PercpuRef ref, ReleaseProbe probe, IIII_Result r) {
        r.r1 = ref.mode() == PercpuRef.Mode.ATOMIC ? 1 : 0;
        r.r2 = ref.isZero() ? 1 : 0;
        r.r3 = probe.releases.get();
        r.r4 = probe.faults();
    }
}
