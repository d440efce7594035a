package io.percpuref.lincheck;

import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;

import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.jetbrains.lincheck.datastructures.ThreadIdGen;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Test;

import kotlin.Unit;
import kotlin.reflect.KFunction;
import kotlin.reflect.jvm.ReflectJvmMapping;

import io.percpuref.PercpuRef;
import io.percpuref.PercpuRefException;

/**
 * Linearizability of {@link PercpuRef}'s life cycle (SPEC §3.3, guarantees 1, 3 and 5): get, put,
 * tryGet, tryGetLive, kill, resurrect, isDying and isZero, checked against
 * {@link PercpuRefSequentialSpec}.
 *
 * <p>The ref is built with {@code allowReinit()} and two stripes, so a scenario crosses every path:
 * the uninflated {@code base} slot, inflation on a lost CAS, sealing and unsealing by kill and
 * resurrect, the atomic slow paths and the zero transition.
 *
 * <p><b>Kill is two steps, and the test makes both visible.</b> {@code kill()} marks the ref dying
 * and switches it to atomic mode under its lock; only later, after the confirm callbacks (confirm
 * strictly before release, guarantee 2), does it drop the initial reference. Other threads can
 * observe the gap (a {@code tryGet} still succeeds, {@code isZero} is still false), so a model in
 * which kill also drops the initial reference at once is not linearizable by design, and Lincheck
 * says so. The ref therefore runs its callbacks on an executor that defers the confirm task of a
 * {@code kill} operation to the same thread's next {@link #confirm(int)} operation, which runs it
 * (confirm, then drop the initial reference); every other callback, release included, runs inline.
 *
 * <p>Rules that keep every scenario legal. A thread only puts references it holds and only gets
 * (unconditionally) while it holds one: each such operation takes Lincheck's thread id
 * ({@link ThreadIdGen}), and this class and the specification both count references per thread
 * id; with none held, {@code get}/{@code put} do not touch the ref and return {@value #NONE_HELD}.
 * A thread with a kill still to confirm does not kill again ({@value #CONFIRM_PENDING}). Misuse that
 * the contract makes loud (a second kill in one life, resurrect of a live ref) returns
 * {@value #ILLEGAL_STATE}.
 *
 * <p>Release is observable: it runs inline in the thread whose put or confirm takes the count to
 * zero, {@code onRelease} counts it in that thread, and the operation appends
 * {@value #RELEASED_SUFFIX} once per release it ran, so a missing release, a second one in a life,
 * or one while a reference is held changes a result. A separate "number of releases" operation
 * would not be linearizable: the callback runs just after the zero transition, so another thread
 * may see {@code isZero()} before it has counted. {@link #countMatchesReferences()} checks the
 * exact count and the error reporter once all threads are done.
 *
 * <p>What each mode can and cannot catch:
 * <ul>
 *   <li><b>Model checking</b> ({@link #modelChecking()}) switches threads at shared memory accesses,
 *   locks and CASes of a bounded number of short scenarios and prints the interleaving that breaks
 *   linearizability. It runs under sequential consistency, so it cannot find a missing
 *   {@code volatile} or a too weak VarHandle access mode (the jcstress tests cover those), and it
 *   misses bugs that need longer scenarios or more interleavings than its bounds.</li>
 *   <li><b>Stress</b> ({@link #stress()}) runs the same kind of scenarios on real threads under the
 *   memory model of this JVM and CPU, so it can hit real reorderings, but only those the hardware
 *   and JIT produce (x86 is TSO), rarely hits windows a few instructions wide, and reports only the
 *   results, not the interleaving.</li>
 * </ul>
 * Neither mode covers inline confirm callbacks, {@code switchToAtomic}/{@code switchToPercpu},
 * {@code reinit}, {@code get(n)}/{@code put(n)} or over-put reporting; {@code PercpuRefTest}, the
 * jcstress tests and the randomized stress test do.
 */
public class PercpuRefLincheckTest {

    /** Parallel threads per scenario. */
    static final int THREADS = 3;
    /** Lincheck thread ids: 0 for the initial part, 1..THREADS in parallel, THREADS + 1 after. */
    static final int THREAD_IDS = THREADS + 2;
    /** Result of get/put by a thread holding no reference: the ref is not touched. */
    static final String NONE_HELD = "none held";
    /** Result of kill by a thread whose previous kill is not yet confirmed: the ref is not touched. */
    static final String CONFIRM_PENDING = "confirm pending";
    /** Result of confirm by a thread with no kill to confirm. */
    static final String NOTHING_TO_CONFIRM = "nothing to confirm";
    /** Result of an operation that threw {@link IllegalStateException}, as the contract requires. */
    static final String ILLEGAL_STATE = "IllegalStateException";
    /** Appended to the result of an operation once for every release callback it ran. */
    static final String RELEASED_SUFFIX = ", released";

    /** What the current thread is doing, as seen by the callbacks it runs. */
    private static final class CallbackContext {
        /** Set while a kill operation runs: the executor keeps the confirm task instead of running it. */
        boolean killing;
        /** The confirm task received while killing. */
        Runnable confirmTask;
        /** Release callbacks this thread ran since its operation last reported them. */
        int releases;
    }

    private final ThreadLocal<CallbackContext> context = ThreadLocal.withInitial(CallbackContext::new);
    /** The first report the ref made to its error reporter, if any. */
    private final AtomicReference<PercpuRefException> reported = new AtomicReference<>();
    /** References held by each thread id; each entry is touched only by its own thread. */
    private final int[] held = new int[THREAD_IDS];
    /** The deferred confirm task of each thread id's unconfirmed kill, or null. */
    private final Runnable[] pendingConfirm = new Runnable[THREAD_IDS];

    private final PercpuRef ref = PercpuRef.builder()
            .name("lincheck")
            .allowReinit()
            .stripes(2)
            .callbackExecutor(deferConfirmOfKill())
            .onRelease(r -> context.get().releases++)
            .errorReporter(e -> reported.compareAndSet(null, e))
            .build();

    private Executor deferConfirmOfKill() {
        return task -> {
            CallbackContext c = context.get();
            if (c.killing) {
                c.confirmTask = task;
            } else {
                task.run();
            }
        };
    }

    @Test
    void modelChecking() {
        new ModelCheckingOptions()
                .threads(THREADS)
                .actorsPerThread(3)
                .actorsBefore(2)
                .actorsAfter(2)
                .iterations(25)               // scenarios
                .invocationsPerIteration(150) // interleavings explored per scenario, at most
                .sequentialSpecification(PercpuRefSequentialSpec.class)
                .check(PercpuRefLincheckTest.class);
    }

    /**
     * One fixed scenario, model checked interleaving by interleaving: a released ref is resurrected
     * while another thread calls {@code tryGet()} and then {@code isDying()}. If {@code tryGet()}
     * succeeds, resurrect has taken effect, so {@code isDying()} after it must be false: no reference
     * may be had in a life that has not started.
     */
    @Test
    void modelCheckingResurrectOfReleasedRef() {
        new ModelCheckingOptions()
                .iterations(0)
                .addCustomScenario(scenario -> {
                    scenario.initial(init -> {
                        init.actor(operation("kill", int.class), 0);
                        init.actor(operation("confirm", int.class), 0);
                        return Unit.INSTANCE;
                    });
                    scenario.parallel(parallel -> {
                        parallel.thread(reader -> {
                            reader.actor(operation("tryGet", int.class), 1);
                            reader.actor(operation("isDying"));
                            return Unit.INSTANCE;
                        });
                        parallel.thread(owner -> {
                            owner.actor(operation("resurrect"));
                            return Unit.INSTANCE;
                        });
                        return Unit.INSTANCE;
                    });
                    return Unit.INSTANCE;
                })
                .sequentialSpecification(PercpuRefSequentialSpec.class)
                .check(PercpuRefLincheckTest.class);
    }

    @Test
    void stress() {
        new StressOptions()
                .threads(THREADS)
                .actorsPerThread(4)
                .actorsBefore(2)
                .actorsAfter(2)
                .iterations(30)                  // scenarios
                .invocationsPerIteration(2_000)  // runs of each scenario
                .sequentialSpecification(PercpuRefSequentialSpec.class)
                .check(PercpuRefLincheckTest.class);
    }

    @Operation
    public String get(@Param(gen = ThreadIdGen.class) int thread) {
        if (held[thread] == 0) {
            return NONE_HELD;
        }
        ref.get();
        held[thread]++;
        return withReleases("got");
    }

    @Operation
    public boolean tryGet(@Param(gen = ThreadIdGen.class) int thread) {
        boolean taken = ref.tryGet();
        if (taken) {
            held[thread]++;
        }
        return taken;
    }

    @Operation
    public boolean tryGetLive(@Param(gen = ThreadIdGen.class) int thread) {
        boolean taken = ref.tryGetLive();
        if (taken) {
            held[thread]++;
        }
        return taken;
    }

    @Operation
    public String put(@Param(gen = ThreadIdGen.class) int thread) {
        if (held[thread] == 0) {
            return NONE_HELD;
        }
        held[thread]--;
        ref.put();
        return withReleases("put");
    }

    @Operation
    public String kill(@Param(gen = ThreadIdGen.class) int thread) {
        if (pendingConfirm[thread] != null) {
            return CONFIRM_PENDING;
        }
        CallbackContext c = context.get();
        c.killing = true;
        try {
            ref.kill();
        } catch (IllegalStateException e) {
            return withReleases(ILLEGAL_STATE);
        } finally {
            c.killing = false;
        }
        pendingConfirm[thread] = c.confirmTask;
        c.confirmTask = null;
        return withReleases("killed");
    }

    /** Runs the deferred confirm task of this thread's kill: confirm, then drop the initial reference. */
    @Operation
    public String confirm(@Param(gen = ThreadIdGen.class) int thread) {
        Runnable task = pendingConfirm[thread];
        if (task == null) {
            return NOTHING_TO_CONFIRM;
        }
        pendingConfirm[thread] = null;
        task.run();
        return withReleases("confirmed");
    }

    @Operation
    public String resurrect() {
        try {
            ref.resurrect();
        } catch (IllegalStateException e) {
            return withReleases(ILLEGAL_STATE);
        }
        return withReleases("resurrected");
    }

    @Operation
    public boolean isDying() {
        return ref.isDying();
    }

    @Operation
    public boolean isZero() {
        return ref.isZero();
    }

    /**
     * Once all threads are done: nothing was reported to the error reporter (every put here matches
     * a get, so an over-put found when folding the slots means a miscount), and the count is exact:
     * the live initial reference, the initial references of unconfirmed kills, and every reference a
     * thread holds. Catches a get or put lost or counted twice by a switch even when no result shows.
     */
    @Validate
    public void countMatchesReferences() {
        PercpuRefException report = reported.get();
        if (report != null) {
            throw new AssertionError("unexpected report: " + report.getMessage(), report);
        }
        long expected = ref.isDying() ? 0 : 1;
        for (int thread = 0; thread < THREAD_IDS; thread++) {
            expected += held[thread] + (pendingConfirm[thread] != null ? 1 : 0);
        }
        long count = ref.approximateCount();
        if (count != expected) {
            throw new AssertionError("count " + count + ", expected " + expected + " in " + ref);
        }
    }

    /** The operation method {@code name(parameterTypes)} of this class, for a custom scenario. */
    private static KFunction<?> operation(String name, Class<?>... parameterTypes) {
        try {
            return ReflectJvmMapping.getKotlinFunction(PercpuRefLincheckTest.class.getMethod(name, parameterTypes));
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException("no operation " + name, e);
        }
    }

    /** Appends {@link #RELEASED_SUFFIX} once for each release callback this thread ran since the last call. */
    private String withReleases(String outcome) {
        CallbackContext c = context.get();
        String result = outcome + RELEASED_SUFFIX.repeat(c.releases);
        c.releases = 0;
        return result;
    }
}
