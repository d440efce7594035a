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
 * The put that takes the count to zero against a concurrent {@code tryGet()}: release runs exactly
 * once, and never while a reference returned by a successful tryGet is held (SPEC 3.3, guarantee 1).
 *
 * <p>Two variants, both with one reference left and a getter that does
 * {@code tryGet(); hold; look; unhold; put}:
 * <ul>
 *   <li>{@link DyingRef}: the ref was killed in the state constructor (atomic mode, count 1, held
 *   by the putter); the putter's put() is the last one, decided by a CAS on the atomic count under
 *   the control lock;</li>
 *   <li>{@link KillIsLastPut}: the ref is live and per-CPU with only its initial reference, so the
 *   killer's kill() seals the slots and drops the last reference; the getter's tryGet may land on
 *   {@code base} just before the seal, or take the atomic slow path after it.</li>
 * </ul>
 * Outcome {@code (r1, r2, r3, r4)} = (tryGet succeeded, releases the getter saw while holding,
 * releases that ran while a reference was held or error reports, releases at the end).
 *
 * <p><b>FORBIDDEN: any {@code r2} or {@code r3} other than 0</b>, release ran while the getter held
 * a reference it obtained legitimately: the zero check and the tryGet were not atomic with each
 * other. <b>FORBIDDEN: {@code r4} other than 1</b>: the getter's reference was counted twice (no
 * release) or release ran twice. (A reference lost instead makes the getter's put find the count
 * at zero and throw, which jcstress reports as a test error: also a failure.)
 */
public class LastPutVsTryGetTest {

    /** Killed in the constructor with one extra reference, which the putter drops. */
    @JCStressTest
    @Outcome(id = "1, 0, 0, 1", expect = ACCEPTABLE, desc = "tryGet won: release ran once, after the getter's put.")
    @Outcome(id = "0, 0, 0, 1", expect = ACCEPTABLE, desc = "tryGet lost: the count was already zero; released once.")
    @Outcome(expect = FORBIDDEN, desc = "Released while held, reference lost or double-counted, or released twice.")
    @State
    public static class DyingRef {
        private final ReleaseProbe probe = new ReleaseProbe();
        private final PercpuRef ref = probe.builder("last-put-vs-tryget").build();

        public DyingRef() {
            ref.get();
            ref.kill();
        }

        @Actor
        public void putter() {
            ref.put();
        }

        @Actor
        public void getter(IIII_Result r) {
            tryGetHoldPut(ref, probe, r);
        }

        @Arbiter
        public void arbiter(IIII_Result r) {
            r.r3 = probe.faults();
            r.r4 = probe.releases.get();
        }
    }

    /** Live and per-CPU with only the initial reference, which kill() drops. */
    @JCStressTest
    @Outcome(id = "1, 0, 0, 1", expect = ACCEPTABLE, desc = "tryGet won: release ran once, after the getter's put.")
    @Outcome(id = "0, 0, 0, 1", expect = ACCEPTABLE, desc = "tryGet lost: kill released first; released once.")
    @Outcome(expect = FORBIDDEN, desc = "Released while held, reference lost or double-counted, or released twice.")
    @State
    public static class KillIsLastPut {
        private final ReleaseProbe probe = new ReleaseProbe();
        private final PercpuRef ref = probe.builder("kill-is-last-put-vs-tryget").build();

        @Actor
        public void killer() {
            ref.kill();
        }

        @Actor
        public void getter(IIII_Result r) {
            tryGetHoldPut(ref, probe, r);
        }

        @Arbiter
        public void arbiter(IIII_Result r) {
            r.r3 = probe.faults();
            r.r4 = probe.releases.get();
        }
    }

    /** tryGet; if it succeeded, hold the reference, record the releases seen meanwhile, put it. */
    static void tryGetHoldPut(PercpuRef ref, ReleaseProbe probe, IIII_Result r) {
        if (ref.tryGet()) {
            probe.hold();
            r.r1 = 1;
            r.r2 = probe.releases.get();
            probe.unhold();
            ref.put();
        }
    }
}
