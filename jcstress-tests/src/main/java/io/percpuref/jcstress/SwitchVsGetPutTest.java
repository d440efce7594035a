package io.percpuref.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.percpuref.PercpuRef;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIII_Result;

/**
 * The per-CPU to atomic switch against gets and puts on another thread: no reference is lost or
 * counted twice (SPEC 3.3, guarantee 1; the sealing protocol in PercpuRef's overview comment).
 *
 * <p>Both actors start with a reference (the switcher with the initial one, the other with a lease
 * taken in the constructor), contend on {@code base} with a get (which may inflate the stripe
 * array in the middle of the switch), and end holding a known number of references. The arbiter
 * then reads the mode and the count (exact: nothing is in flight any more), and drains the ref
 * with kill() and puts, checking that release runs at the last put and not before. Outcome
 * {@code (r1, r2, r3, r4, r5)} = (mode is ATOMIC, count once both actors finished, releases before
 * the last put, releases at the end, releases while held plus error reports).
 *
 * <p><b>FORBIDDEN: a count other than 3</b>: an increment or decrement was lost by the seal (it
 * landed on a slot after its value was captured, or on a slot created by an inflation behind the
 * switch) or counted twice (folded into the atomic count and left on the slot). The first shows
 * later as release before the last put ({@code r3 = 1}) or as an over-put report ({@code r5 > 0}),
 * the second as no release at all ({@code r4 = 0}): all FORBIDDEN.
 */
public class SwitchVsGetPutTest {

    /** switchToAtomicSync() while the other thread gets and puts. */
    @JCStressTest
    @Outcome(id = "1, 3, 0, 1, 0", expect = ACCEPTABLE, desc = "Atomic, exact count; released once, at the last put.")
    @Outcome(expect = FORBIDDEN, desc = "Lost or double-counted reference, release early or missing, or an over-put.")
    @State
    public static class ToAtomic {
        private final ReleaseProbe probe = new ReleaseProbe();
        private final PercpuRef ref = probe.builder("switch-to-atomic-vs-get-put").stripes(2).build();

        public ToAtomic() {
            takeLease(ref, probe);
        }

        @Actor
        public void switcher() {
            ref.get();
            ref.switchToAtomicSync();
            ref.put();
        }

        @Actor
        public void holder() {
            getGetPut(ref);
        }

        @Arbiter
        public void arbiter(IIIII_Result r) {
            checkAndDrain(ref, probe, r);
        }
    }

    /**
     * switchToAtomicSync() then switchToPercpu() while the other thread gets and puts: the bias
     * must be back in the atomic count before any slot is unsealed.
     */
    @JCStressTest
    @Outcome(id = "0, 3, 0, 1, 0", expect = ACCEPTABLE, desc = "Back to per-CPU, exact count; released once, at the last put.")
    @Outcome(expect = FORBIDDEN, desc = "Lost or double-counted reference, release early or missing, or an over-put.")
    @State
    public static class RoundTrip {
        private final ReleaseProbe probe = new ReleaseProbe();
        private final PercpuRef ref = probe.builder("switch-round-trip-vs-get-put").stripes(2).build();

        public RoundTrip() {
            takeLease(ref, probe);
        }

        @Actor
        public void switcher() {
            ref.get();
            ref.switchToAtomicSync();
            ref.switchToPercpu();
            ref.put();
        }

        @Actor
        public void holder() {
            getGetPut(ref);
        }

        @Arbiter
        public void arbiter(IIIII_Result r) {
            checkAndDrain(ref, probe, r);
        }
    }

    /** The constructor's reference for the holder actor, counted as held by the probe. */
    static void takeLease(PercpuRef ref, ReleaseProbe probe) {
        ref.get();
        probe.hold();
    }

    /** Net one more reference, with a get that may contend on base and inflate. */
    static void getGetPut(PercpuRef ref) {
        ref.get();
        ref.get();
        ref.put();
    }

    /**
     * Records the mode and the count (initial + lease + the holder's extra one = 3), then drops
     * them all: kill() drops the initial reference, two puts the holder's.
     */
    static void checkAndDrain(PercpuRef ref, ReleaseProbe probe, IIIII_Result r) {
        r.r1 = ref.mode() == PercpuRef.Mode.ATOMIC ? 1 : 0;
        r.r2 = (int) ref.approximateCount();
        ref.kill();
        probe.unhold();
        ref.put();
        r.r3 = probe.releases.get();
        ref.put();
        r.r4 = probe.releases.get();
        r.r5 = probe.faults();
    }
}
