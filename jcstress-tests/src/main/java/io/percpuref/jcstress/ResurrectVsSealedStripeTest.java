package io.percpuref.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.percpuref.PercpuRef;
import java.util.concurrent.CompletionStage;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIIII_Result;
import org.openjdk.jcstress.infra.results.IIIII_Result;

/**
 * {@code resurrect()} against a thread still counting on a slot that kill() sealed: the slot is
 * unsealed (reset to zero) under that thread's feet, and the thread's CAS may compare against a
 * value it read in the previous life (the ABA case discussed in PercpuRef's overview comment).
 * SPEC 3.3, guarantee 1: release exactly once per life, never while held.
 *
 * <p>The killer runs {@code kill(); resurrect()} on an {@code allowReinit()} ref. Depending on the
 * interleaving, life 1 ends inside the actors (the count reached zero between kill and resurrect,
 * so resurrect starts life 2) or continues through resurrect (a reference was held across it).
 * The state keeps the {@link PercpuRef#released()} stage of life 1 to tell the two apart. The
 * arbiter then kills once more with every reference put, which must end the current life.
 * Columns: releases before the arbiter's kill, life 1's stage completed, releases after the
 * arbiter's kill, releases while held plus error reports, {@code isZero()} at the end.
 *
 * <p><b>FORBIDDEN: releases not equal to the number of lives that ended</b> (before the arbiter's
 * kill: 1 iff life 1's stage completed; after it: one more): a lost reference (release too early,
 * or an over-put reported when the arbiter's kill switches to atomic), a double-counted one (release
 * missing) or a double release; <b>any release while held</b>; <b>a count other than zero at the
 * end</b>.
 */
public class ResurrectVsSealedStripeTest {

    /** The holder does get/put (and drops its lease) while the killer kills and resurrects. */
    @JCStressTest
    @Outcome(id = "0, 0, 1, 0, 1", expect = ACCEPTABLE, desc = "Lease held across resurrect: one life, released once.")
    @Outcome(id = "1, 1, 2, 0, 1", expect = ACCEPTABLE, desc = "Life 1 ended before resurrect: two lives, two releases.")
    @Outcome(expect = FORBIDDEN, desc = "Wrong count: release missing, doubled, early, or while held.")
    @State
    public static class GetPut {
        private final ReleaseProbe probe = new ReleaseProbe();
        private final PercpuRef ref = probe.builder("resurrect-vs-get-put").allowReinit().stripes(2).build();
        private final CompletionStage<Void> life1 = ref.released();

        public GetPut() {
            ref.get();
            probe.hold();
        }

        @Actor
        public void killer() {
            ref.get();
            ref.put();
            ref.kill();
            ref.resurrect();
        }

        @Actor
        public void holder() {
            ref.get();
            ref.put();
            probe.unhold();
            ref.put();
        }

        @Arbiter
        public void arbiter(IIIII_Result r) {
            r.r1 = probe.releases.get();
            r.r2 = isDone(life1);
            ref.kill();
            r.r3 = probe.releases.get();
            r.r4 = probe.faults();
            r.r5 = ref.isZero() ? 1 : 0;
        }
    }

    /**
     * The getter's tryGetLive may succeed in life 1 (before the seal), fail while the ref is dying,
     * or succeed in life 2 after resurrect, possibly by a CAS on a slot value read before the seal.
     * First column: tryGetLive succeeded. If it failed, the kill dropped the only reference, so
     * life 1 must have ended.
     */
    @JCStressTest
    @Outcome(id = "1, 0, 0, 1, 0, 1", expect = ACCEPTABLE, desc = "Got a reference in the one life, held across resurrect.")
    @Outcome(id = "1, 1, 1, 2, 0, 1", expect = ACCEPTABLE, desc = "Got a reference, in life 1 or 2; two lives, two releases.")
    @Outcome(id = "0, 1, 1, 2, 0, 1", expect = ACCEPTABLE, desc = "Failed while dying: kill released life 1; two releases.")
    @Outcome(expect = FORBIDDEN, desc = "Wrong count: release missing, doubled, early, or while held.")
    @State
    public static class TryGetLive {
        private final ReleaseProbe probe = new ReleaseProbe();
        private final PercpuRef ref = probe.builder("resurrect-vs-trygetlive").allowReinit().stripes(2).build();
        private final CompletionStage<Void> life1 = ref.released();
        /** Whether the getter's tryGetLive succeeded; read by the arbiter. */
        private boolean got;

        @Actor
        public void killer() {
            ref.kill();
            ref.resurrect();
        }

        @Actor
        public void getter() {
            if (ref.tryGetLive()) {
                probe.hold();
                got = true;
                probe.unhold();
                ref.put();
            }
        }

        @Arbiter
        public void arbiter(IIIIII_Result r) {
            r.r1 = got ? 1 : 0;
            r.r2 = probe.releases.get();
            r.r3 = isDone(life1);
            ref.kill();
            r.r4 = probe.releases.get();
            r.r5 = probe.faults();
            r.r6 = ref.isZero() ? 1 : 0;
        }
    }

    static int isDone(CompletionStage<Void> stage) {
        return stage.toCompletableFuture().isDone() ? 1 : 0;
    }
}
