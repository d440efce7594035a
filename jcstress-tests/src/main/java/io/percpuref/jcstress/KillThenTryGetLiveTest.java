package io.percpuref.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.percpuref.PercpuRef;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.ZZ_Result;

/**
 * Kill is linearizable (SPEC 3.3, guarantee 3): a {@code tryGetLive()} that starts after
 * {@code kill()} has returned fails.
 *
 * <p>The killer sets a volatile flag after {@code kill()} returns; the reader reads the flag, then
 * calls {@code tryGetLive()}. Reading {@code true} means {@code kill()} returned before the reader's
 * call started (the volatile write and read order them). Outcome {@code (r1, r2)} = (flag seen,
 * tryGetLive succeeded).
 *
 * <p><b>FORBIDDEN: {@code true, true}</b>, the reader saw kill() finished and still took a live
 * reference. It would mean a stripe was left unsealed when kill() returned, or the dying flag was
 * not visible to a later reader: exactly the window the kernel closes only after an RCU grace
 * period and this implementation promises to have no window at all.
 */
@JCStressTest
@Outcome(id = "true, false", expect = ACCEPTABLE, desc = "tryGetLive started after kill() returned, and failed.")
@Outcome(id = "false, false", expect = ACCEPTABLE, desc = "tryGetLive failed before the reader could tell that kill() had returned.")
@Outcome(id = "false, true", expect = ACCEPTABLE, desc = "tryGetLive was linearized before kill(): a live reference.")
@Outcome(id = "true, true", expect = FORBIDDEN, desc = "kill() had returned, yet a later tryGetLive succeeded.")
@State
public class KillThenTryGetLiveTest {

    private final PercpuRef ref = new ReleaseProbe().builder("kill-then-trygetlive").build();
    /** Written right after kill() returned. */
    private volatile boolean killReturned;

    @Actor
    public void killer() {
        ref.kill();
        // release: a reader that sees true started its tryGetLive() after kill() returned
        killReturned = true;
    }

    @Actor
    public void reader(ZZ_Result r) {
        // acquire: read the flag first, so that true orders kill()'s return before the call
        r.r1 = killReturned;
        r.r2 = ref.tryGetLive();
    }
}
