package io.percpuref.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import io.percpuref.PercpuRef;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Memory ordering into the callbacks (SPEC 3.3, guarantee 4): everything a thread did before its
 * {@code put()} happens-before the release callback, and {@code kill()} happens-before the confirm
 * callback, which happens-before release. The data is plain (non-volatile) fields, so only the
 * happens-before edges that PercpuRef promises can make it visible.
 *
 * <p>A holder writes a plain field and puts its reference on a live, per-CPU ref (the put may land
 * on a slot the kill then seals, or on the atomic count after it) while a killer writes another
 * plain field and kills. Release runs in whichever of the two drops the last reference. Outcome
 * {@code (r1, r2, r3, r4)} = (the holder's write seen by release, the killer's write seen by
 * confirm, the killer's write seen by release, releases). (Two actors only: jcstress skips tests
 * with more actors than CPUs, and CI has two.)
 *
 * <p><b>FORBIDDEN: anything but {@code 1, 1, 1, 1}</b>: a write before a put, or before kill, that
 * release or confirm did not see is a missing happens-before edge (a too weak access mode on a
 * slot, the seal, the zero transition or the callback hand-off); a release count other than 1
 * breaks exactly-once release.
 */
public class ReleaseSeesPlainWritesTest {

    /** Callbacks inline: release runs in whichever thread's put (or the killer's confirm) reaches zero. */
    @JCStressTest
    @Outcome(id = "1, 1, 1, 1", expect = ACCEPTABLE, desc = "Release saw the holder's write; confirm and release saw the killer's.")
    @Outcome(expect = FORBIDDEN, desc = "A write before put() or kill() was not visible to a callback, or release count != 1.")
    @State
    public static class Inline {
        private final Callbacks callbacks = new Callbacks();
        private final PercpuRef ref = callbacks.builder("plain-writes-inline").build();

        public Inline() {
            ref.get();
        }

        @Actor
        public void holder() {
            callbacks.x = 1;
            ref.put();
        }

        @Actor
        public void killer() {
            callbacks.k = 1;
            ref.kill();
        }

        @Arbiter
        public void arbiter(IIII_Result r) {
            callbacks.record(r);
        }
    }

    /**
     * Callbacks on an executor thread: the hand-off to the executor must carry the edges too. The
     * arbiter waits for the {@code released()} stage, whose completion happens-after the callback.
     */
    @JCStressTest
    @Outcome(id = "1, 1, 1, 1", expect = ACCEPTABLE, desc = "Release saw the holder's write; confirm and release saw the killer's.")
    @Outcome(expect = FORBIDDEN, desc = "A write before put() or kill() was not visible to a callback, or release count != 1.")
    @State
    public static class OnExecutor {
        /** One callback thread for every instance of this state; a daemon, so the fork can exit. */
        private static final ExecutorService EXECUTOR = Executors.newSingleThreadExecutor(task -> {
            Thread t = new Thread(task, "percpu-ref-callbacks");
            t.setDaemon(true);
            return t;
        });

        private final Callbacks callbacks = new Callbacks();
        private final PercpuRef ref = callbacks.builder("plain-writes-executor").callbackExecutor((Executor) EXECUTOR).build();

        public OnExecutor() {
            ref.get();
        }

        @Actor
        public void holder() {
            callbacks.x = 1;
            ref.put();
        }

        @Actor
        public void killer() {
            callbacks.k = 1;
            ref.kill();
        }

        @Arbiter
        public void arbiter(IIII_Result r) {
            ref.released().toCompletableFuture().join();
            callbacks.record(r);
        }
    }

    /** Plain fields written by the actors and read by the callbacks. */
    static final class Callbacks {
        int x;
        int k;
        int releaseSawX;
        int confirmSawK;
        int releaseSawK;
        int releases;

        PercpuRef.Builder builder(String name) {
            return PercpuRef.builder()
                    .name(name)
                    .onConfirmKill(r -> confirmSawK = k)
                    .onRelease(r -> {
                        releaseSawX = x;
                        releaseSawK = k;
                        releases++;
                    });
        }

        void record(IIII_Result r) {
            r.r1 = releaseSawX;
            r.r2 = confirmSawK;
            r.r3 = releaseSawK;
            r.r4 = releases;
        }
    }
}
