package io.percpuref.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.percpuref.PercpuRef;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * A {@code tryGetLive()} concurrent with {@code kill()} either fails or succeeds with a real
 * reference that release waits for (SPEC 3.3, guarantees 1 and 3).
 *
 * <p>The ref holds only its initial reference, so kill() alone takes the count to zero. The reader
 * races kill() with tryGetLive() from a live per-CPU ref (its increment may land on {@code base}
 * just before or after the seal). The arbiter holds the reader's reference until it has looked:
 * outcome {@code (r1, r2, r3)} = (tryGetLive succeeded, releases before the reader's reference was
 * put, releases at the end).
 *
 * <p><b>FORBIDDEN: {@code 1, 1, _}</b>, release ran while the reference tryGetLive returned was
 * still held: the increment was lost by the seal (it landed on a slot after its value was
 * captured). <b>FORBIDDEN: {@code 1, 0, 0}</b>, the reference was counted twice, so the last put
 * did not release. <b>FORBIDDEN: {@code 0, 0, _}</b>, kill dropped the only reference and nothing
 * was released. Any {@code r3 = 2}: double release. Only the two lines marked acceptable may appear.
 */
@JCStressTest
@Outcome(id = "1, 0, 1", expect = ACCEPTABLE, desc = "tryGetLive won: release waited for its put, then ran once.")
@Outcome(id = "0, 1, 1", expect = ACCEPTABLE, desc = "tryGetLive lost: kill dropped the last reference, released once.")
@Outcome(id = "1, 1, .*", expect = FORBIDDEN, desc = "Released while the tryGetLive reference was held.")
@Outcome(expect = FORBIDDEN, desc = "Lost or double-counted reference: release missing or run twice.")
@State
public class KillVsTryGetLiveTest {

    private final ReleaseProbe probe = new ReleaseProbe();
    private final PercpuRef ref = probe.builder("kill-vs-trygetlive").build();
    /** Whether the reader holds a reference; read by the arbiter after both actors finished. */
    private boolean got;

    @Actor
    public void killer() {
        ref.kill();
    }

    @Actor
    public void reader() {
        got = ref.tryGetLive();
    }

    @Arbiter
    public void arbiter(III_Result r) {
        r.r1 = got ? 1 : 0;
        r.r2 = probe.releases.get();
        if (got) {
            ref.put();
        }
        r.r3 = probe.releases.get();
    }
}
