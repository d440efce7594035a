package io.percpuref.lincheck;

import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
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
import io.percpuref.PercpuRefTestAccess;

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
 * Operations also cover {@code reinit}, {@code switchToAtomic}/{@code switchToPercpu} (no
 * observable effect in the sequential model: a force-atomic live ref still holds its initial
 * reference), {@code get(2)}/{@code put(2)}, inflation of the stripes at any point, and
 * <b>hand-off</b>: a thread passes a reference it holds to a shared pool ({@link #handOff(int)}),
 * another takes it over ({@link #takeHandedOff(int)}) and puts it, so a reference taken on one
 * stripe is dropped on another. Neither mode covers inline confirm callbacks or over-put reporting;
 * {@code PercpuRefTest}, the jcstress tests and the randomized stress test do.
 *
 * <p>Budgets: CI runs the bounded budgets below. {@code -Dlincheck.iterations=100
 * -Dlincheck.invocations=10000} runs near Lincheck's defaults (see docs/semantics.md).
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
    /** Scenarios per Lincheck run; {@code -Dlincheck.iterations} raises it for a long run. */
    static final int ITERATIONS = Integer.getInteger("lincheck.iterations", 25);
    /** Interleavings (model checking) per scenario; {@code -Dlincheck.invocations} raises it. */
    static final int INVOCATIONS = Integer.getInteger("lincheck.invocations", 150);

    /** References held by each thread id; each entry is touched only by its own thread. */
    private final int[] held = new int[THREAD_IDS];
    /** References handed off by their taker and not yet put by anyone. */
    private final AtomicInteger handedOff = new AtomicInteger();
    /** The deferred confirm task of each thread id's unconfirmed kill, or null. */
    private final Runnable[] pendingConfirm = new Runnable[THREAD_IDS];

    /**
     * Stripes of the ref each test instance builds: 2 (every path, few switch points), or 4 for the
     * custom scenarios that need two workers on different stripes (Lincheck's worker threads have
     * consecutive ids, which id mod stripes puts on different stripes). Set by a
     * test method before it starts Lincheck, which creates the instances.
     */
    private static volatile int stripes = 2;

    private final PercpuRef ref = PercpuRef.builder()
            .name("lincheck")
            .allowReinit()
            .stripes(stripes)
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
                .iterations(ITERATIONS)               // scenarios
                .invocationsPerIteration(INVOCATIONS) // interleavings explored per scenario, at most
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
                .invocationsPerIteration(Math.max(INVOCATIONS, 1_000))
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

    /**
     * Hand-off across a resurrect of a killed, inflated ref: two workers each take a reference,
     * hand it off, and take over and put up to two handed-off references while the owner
     * resurrects. Every put lands in the right life whichever stripe it finds sealed or unsealed.
     */
    @Test
    void modelCheckingHandOffAcrossResurrect() {
        new ModelCheckingOptions()
                .iterations(0)
                .invocationsPerIteration(Math.max(INVOCATIONS, 300))
                .addCustomScenario(scenario -> {
                    scenario.initial(init -> {
                        init.actor(operation("inflate"));
                        init.actor(operation("tryGet", int.class), 0);
                        init.actor(operation("handOff", int.class), 0);
                        init.actor(operation("kill", int.class), 0);
                        init.actor(operation("confirm", int.class), 0);
                        return Unit.INSTANCE;
                    });
                    scenario.parallel(parallel -> {
                        parallel.thread(owner -> {
                            owner.actor(operation("resurrect"));
                            return Unit.INSTANCE;
                        });
                        for (int thread = 2; thread <= 3; thread++) {
                            int id = thread;
                            parallel.thread(worker -> {
                                worker.actor(operation("tryGet", int.class), id);
                                worker.actor(operation("handOff", int.class), id);
                                worker.actor(operation("takeHandedOff", int.class), id);
                                worker.actor(operation("put", int.class), id);
                                worker.actor(operation("takeHandedOff", int.class), id);
                                worker.actor(operation("put", int.class), id);
                                return Unit.INSTANCE;
                            });
                        }
                        return Unit.INSTANCE;
                    });
                    return Unit.INSTANCE;
                })
                .sequentialSpecification(PercpuRefSequentialSpec.class)
                .check(PercpuRefLincheckTest.class);
    }

    /**
     * The order of the switch back to per-CPU mode: the bias must be in the atomic count before any
     * stripe is unsealed. A released, inflated ref is reinitialized (count 1) while one worker takes
     * two references and hands them off and the other takes both over and puts them with one
     * {@code put(2)}. If stripes were unsealed first, the taker's gets could land on its already
     * unsealed stripe while the putter, whose stripe was still sealed, went to the unbiased count:
     * 1 - 2 < 0, and a legitimate {@code put(2)} threw "below zero". (Release itself stays safe in
     * that order, because the zero transition waits for the switch on the ref's lock.)
     *
     * <p>The failure needs the taker's stripe to be unsealed before the putter's. Lincheck runs each
     * custom scenario on fresh threads, so the stripes the two workers hash to change from scenario
     * to scenario: the scenario runs three times with each worker in each role.
     */
    @Test
    void modelCheckingPutOfManyAcrossReinit() {
        stripes = 4;
        try {
            ModelCheckingOptions options = new ModelCheckingOptions()
                    .iterations(0)
                    .invocationsPerIteration(Math.max(INVOCATIONS, 300))
                    .sequentialSpecification(PercpuRefSequentialSpec.class);
            for (int[] roles : new int[][] {{2, 3}, {3, 2}, {2, 3}, {3, 2}, {2, 3}, {3, 2}}) {
                int taker = roles[0];
                options.addCustomScenario(scenario -> {
                    scenario.initial(init -> {
                        init.actor(operation("inflate"));
                        init.actor(operation("kill", int.class), 0);
                        init.actor(operation("confirm", int.class), 0);
                        return Unit.INSTANCE;
                    });
                    scenario.parallel(parallel -> {
                        parallel.thread(owner -> {
                            owner.actor(operation("reinit"));
                            return Unit.INSTANCE;
                        });
                        for (int thread = 2; thread <= 3; thread++) {
                            int id = thread;
                            parallel.thread(worker -> {
                                if (id == taker) {
                                    worker.actor(operation("tryGet", int.class), id);
                                    worker.actor(operation("tryGet", int.class), id);
                                    worker.actor(operation("handOff", int.class), id);
                                    worker.actor(operation("handOff", int.class), id);
                                } else {
                                    worker.actor(operation("takeHandedOff", int.class), id);
                                    worker.actor(operation("takeHandedOff", int.class), id);
                                    worker.actor(operation("putTwo", int.class), id);
                                }
                                return Unit.INSTANCE;
                            });
                        }
                        return Unit.INSTANCE;
                    });
                    return Unit.INSTANCE;
                });
            }
            options.check(PercpuRefLincheckTest.class);
        } finally {
            stripes = 2;
        }
    }

    /**
     * The linearization point of resurrect from zero is the count leaving zero, so the count must
     * rise before the dying and released flags clear: cleared first, a reader could see the ref
     * live ({@code isDying()} false) and then fail {@code tryGetLive()} on the still-zero count.
     */
    @Test
    void modelCheckingFlagsClearOnlyAfterTheCountLeavesZero() {
        new ModelCheckingOptions()
                .iterations(0)
                .invocationsPerIteration(Math.max(INVOCATIONS, 1_000))
                .addCustomScenario(scenario -> {
                    scenario.initial(init -> {
                        init.actor(operation("kill", int.class), 0);
                        init.actor(operation("confirm", int.class), 0);
                        return Unit.INSTANCE;
                    });
                    scenario.parallel(parallel -> {
                        parallel.thread(reader -> {
                            reader.actor(operation("isDying"));
                            reader.actor(operation("tryGetLive", int.class), 1);
                            return Unit.INSTANCE;
                        });
                        parallel.thread(owner -> {
                            owner.actor(operation("reinit"));
                            return Unit.INSTANCE;
                        });
                        return Unit.INSTANCE;
                    });
                    return Unit.INSTANCE;
                })
                .sequentialSpecification(PercpuRefSequentialSpec.class)
                .check(PercpuRefLincheckTest.class);
    }

    /**
     * Growth of the stripe table: the old table's stripes are sealed with getAndSet and their sum
     * moved to the new table, which is then published. Model checked against counting workers (a
     * worker's add on the old table may land before or after the seal: before, it is captured and
     * moved; after, it is garbage and the worker counts in the new table), a switch cycle between two
     * growths and a growth by a worker racing the owner's. The cap is 8, so the table goes 2, 4, 8.
     * Catches a growth that drops or double-counts a stripe's value, an add on a stripe sealed by
     * growth taken as counted or sent to the atomic counter while the table is per-CPU, and a switch
     * that seals or unseals a replaced table.
     */
    @Test
    void modelCheckingGrowthRacingCountingAndSwitches() {
        stripes = 8;
        try {
            ModelCheckingOptions options = new ModelCheckingOptions()
                    .iterations(0)
                    .invocationsPerIteration(Math.max(INVOCATIONS, 300))
                    .sequentialSpecification(PercpuRefSequentialSpec.class);
            for (int[] roles : new int[][] {{2, 3}, {3, 2}}) {
                int getter = roles[0];
                options.addCustomScenario(scenario -> {
                    scenario.initial(init -> {
                        init.actor(operation("inflate"));
                        init.actor(operation("tryGet", int.class), 0);
                        init.actor(operation("handOff", int.class), 0);
                        return Unit.INSTANCE;
                    });
                    scenario.parallel(parallel -> {
                        parallel.thread(owner -> {
                            owner.actor(operation("grow"));
                            owner.actor(operation("switchToAtomic"));
                            owner.actor(operation("switchToPercpu"));
                            owner.actor(operation("grow"));
                            return Unit.INSTANCE;
                        });
                        for (int thread = 2; thread <= 3; thread++) {
                            int id = thread;
                            parallel.thread(worker -> {
                                if (id == getter) {
                                    worker.actor(operation("tryGet", int.class), id);
                                    worker.actor(operation("getTwo", int.class), id);
                                    worker.actor(operation("grow"));
                                    worker.actor(operation("putTwo", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                } else {
                                    worker.actor(operation("takeHandedOff", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                    worker.actor(operation("tryGetLive", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                }
                                return Unit.INSTANCE;
                            });
                        }
                        return Unit.INSTANCE;
                    });
                    scenario.post(post -> {
                        post.actor(operation("kill", int.class), 0);
                        post.actor(operation("confirm", int.class), 0);
                        return Unit.INSTANCE;
                    });
                    return Unit.INSTANCE;
                });
            }
            options.check(PercpuRefLincheckTest.class);
        } finally {
            stripes = 2;
        }
    }

    /**
     * {@code approximateCount()} never reads a half-moved table or a half-done switch: a rebuild
     * seals the old table's stripes and moves their sum (and the atomic part) into the new table
     * before publishing it, and a switch moves the stripes' sum and the bias, each inside a
     * switch-sequence step, so a reader that overlaps one retries. Model checked: thread 0 holds 3
     * references (plus the initial one) on a stripe while one thread grows the table twice, or
     * switches to atomic mode and back, and another reads the count twice; no reference moves
     * during the reads, so each must see all 4. Catches a rebuild or a switch to atomic mode without
     * its sequence step (PIT's surviving mutants of {@code replaceTableLocked} and
     * {@code switchToAtomicLocked}, 2026-12-08).
     */
    @Test
    void modelCheckingApproximateCountAcrossRebuildsAndSwitches() {
        stripes = 8;
        try {
            ModelCheckingOptions options = new ModelCheckingOptions()
                    .iterations(0)
                    .invocationsPerIteration(Math.max(INVOCATIONS, 300))
                    .sequentialSpecification(PercpuRefSequentialSpec.class);
            for (String[] changes : new String[][] {{"grow", "grow"}, {"switchToAtomic", "switchToPercpu"}}) {
                options.addCustomScenario(scenario -> {
                    scenario.initial(init -> {
                        init.actor(operation("inflate"));
                        init.actor(operation("tryGet", int.class), 0);
                        init.actor(operation("getTwo", int.class), 0);
                        return Unit.INSTANCE;
                    });
                    scenario.parallel(parallel -> {
                        parallel.thread(changer -> {
                            for (String change : changes) {
                                changer.actor(operation(change));
                            }
                            return Unit.INSTANCE;
                        });
                        parallel.thread(reader -> {
                            reader.actor(operation("countCoversThreadZero"));
                            reader.actor(operation("countCoversThreadZero"));
                            return Unit.INSTANCE;
                        });
                        return Unit.INSTANCE;
                    });
                    scenario.post(post -> {
                        post.actor(operation("putTwo", int.class), 0);
                        post.actor(operation("put", int.class), 0);
                        return Unit.INSTANCE;
                    });
                    return Unit.INSTANCE;
                });
            }
            options.check(PercpuRefLincheckTest.class);
        } finally {
            stripes = 2;
        }
    }

    /**
     * The stripe fast path is one {@code getAndAdd}: an add that finds its stripe sealed stays there
     * as garbage and the thread then counts on the atomic counter. Model checked: a worker's add may
     * hit a sealed stripe and the worker be switched out before its atomic fallback across a whole
     * seal, unseal, seal cycle, while another worker puts a reference taken on a third stripe. Four
     * stripes, so the workers' stripes are sealed and unsealed at different moments; each worker
     * plays each role. Catches an unseal that keeps the garbage, and an add on a sealed stripe that
     * is taken as counted.
     */
    @Test
    void modelCheckingAddsToSealedStripesAcrossSwitchCycles() {
        stripes = 4;
        try {
            ModelCheckingOptions options = new ModelCheckingOptions()
                    .iterations(0)
                    .invocationsPerIteration(Math.max(INVOCATIONS, 300))
                    .sequentialSpecification(PercpuRefSequentialSpec.class);
            for (int[] roles : new int[][] {{2, 3}, {3, 2}}) {
                int getter = roles[0];
                options.addCustomScenario(scenario -> {
                    scenario.initial(init -> {
                        init.actor(operation("inflate"));
                        init.actor(operation("tryGet", int.class), 0);
                        init.actor(operation("handOff", int.class), 0);
                        return Unit.INSTANCE;
                    });
                    scenario.parallel(parallel -> {
                        parallel.thread(owner -> {
                            owner.actor(operation("switchToAtomic"));
                            owner.actor(operation("switchToPercpu"));
                            owner.actor(operation("switchToAtomic"));
                            owner.actor(operation("switchToPercpu"));
                            return Unit.INSTANCE;
                        });
                        for (int thread = 2; thread <= 3; thread++) {
                            int id = thread;
                            parallel.thread(worker -> {
                                if (id == getter) {
                                    worker.actor(operation("tryGet", int.class), id);
                                    worker.actor(operation("getTwo", int.class), id);
                                    worker.actor(operation("putTwo", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                } else {
                                    worker.actor(operation("takeHandedOff", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                    worker.actor(operation("tryGetLive", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                }
                                return Unit.INSTANCE;
                            });
                        }
                        return Unit.INSTANCE;
                    });
                    scenario.post(post -> {
                        post.actor(operation("kill", int.class), 0);
                        post.actor(operation("confirm", int.class), 0);
                        return Unit.INSTANCE;
                    });
                    return Unit.INSTANCE;
                });
            }
            options.check(PercpuRefLincheckTest.class);
        } finally {
            stripes = 2;
        }
    }

    /**
     * As above across kill, resurrect and a second kill: a {@code tryGetLive} whose add hits a stripe
     * sealed by the kill must fail or return a reference of the resurrected life, the garbage it
     * left must not reach that life, and the last put releases exactly once.
     */
    @Test
    void modelCheckingAddsToSealedStripesAcrossKillAndResurrect() {
        stripes = 4;
        try {
            ModelCheckingOptions options = new ModelCheckingOptions()
                    .iterations(0)
                    .invocationsPerIteration(Math.max(INVOCATIONS, 300))
                    .sequentialSpecification(PercpuRefSequentialSpec.class);
            for (int[] roles : new int[][] {{2, 3}, {3, 2}}) {
                int live = roles[0];
                options.addCustomScenario(scenario -> {
                    scenario.initial(init -> {
                        init.actor(operation("inflate"));
                        init.actor(operation("tryGet", int.class), 0);
                        init.actor(operation("handOff", int.class), 0);
                        return Unit.INSTANCE;
                    });
                    scenario.parallel(parallel -> {
                        parallel.thread(owner -> {
                            owner.actor(operation("kill", int.class), 1);
                            owner.actor(operation("resurrect"));
                            owner.actor(operation("confirm", int.class), 1);
                            owner.actor(operation("kill", int.class), 1);
                            owner.actor(operation("confirm", int.class), 1);
                            return Unit.INSTANCE;
                        });
                        for (int thread = 2; thread <= 3; thread++) {
                            int id = thread;
                            parallel.thread(worker -> {
                                if (id == live) {
                                    worker.actor(operation("tryGetLive", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                    worker.actor(operation("tryGetLive", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                } else {
                                    worker.actor(operation("takeHandedOff", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                    worker.actor(operation("tryGet", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                }
                                return Unit.INSTANCE;
                            });
                        }
                        return Unit.INSTANCE;
                    });
                    return Unit.INSTANCE;
                });
            }
            options.check(PercpuRefLincheckTest.class);
        } finally {
            stripes = 2;
        }
    }

    /**
     * Before inflation the first thread to count on {@code base} owns it and adds by getAndAdd (an
     * odd old value: sealed, the add is garbage, count on the atomic counter); the others use load +
     * CAS and inflate on a lost CAS. The ref starts uninflated and untouched, so the workers race for
     * the claim, the non-owner may inflate at any point against the owner's getAndAdd, and a switch
     * cycle may seal base (and the stripes field, or the freshly published stripes) between the
     * owner's read of {@code stripes} and its add. Each worker plays each role; with and without an
     * initial-part reference (which makes the initial thread the owner). Catches an owner's add on a
     * sealed base taken as counted, an unseal that keeps the owner's garbage, and a switch that does
     * not seal the stripes field (an inflation behind the switch counts on an unsealed stripe that
     * the fold never saw).
     */
    @Test
    void modelCheckingBaseOwnerAgainstSwitchCyclesFromUninflated() {
        stripes = 4;
        try {
            ModelCheckingOptions options = new ModelCheckingOptions()
                    .iterations(0)
                    .invocationsPerIteration(Math.max(INVOCATIONS, 400))
                    .sequentialSpecification(PercpuRefSequentialSpec.class);
            for (boolean initialReference : new boolean[] {false, true}) {
                for (int[] roles : new int[][] {{2, 3}, {3, 2}}) {
                    int getter = roles[0];
                    options.addCustomScenario(scenario -> {
                        if (initialReference) {
                            scenario.initial(init -> {
                                init.actor(operation("tryGet", int.class), 0);
                                init.actor(operation("handOff", int.class), 0);
                                return Unit.INSTANCE;
                            });
                        }
                        scenario.parallel(parallel -> {
                            parallel.thread(owner -> {
                                owner.actor(operation("switchToAtomic"));
                                owner.actor(operation("switchToPercpu"));
                                owner.actor(operation("switchToAtomic"));
                                owner.actor(operation("switchToPercpu"));
                                return Unit.INSTANCE;
                            });
                            for (int thread = 2; thread <= 3; thread++) {
                                int id = thread;
                                parallel.thread(worker -> {
                                    if (id == getter) {
                                        worker.actor(operation("tryGet", int.class), id);
                                        worker.actor(operation("getTwo", int.class), id);
                                        worker.actor(operation("putTwo", int.class), id);
                                        worker.actor(operation("put", int.class), id);
                                    } else {
                                        worker.actor(operation("tryGet", int.class), id);
                                        worker.actor(operation("put", int.class), id);
                                        worker.actor(operation("takeHandedOff", int.class), id);
                                        worker.actor(operation("tryGetLive", int.class), id);
                                        worker.actor(operation("put", int.class), id);
                                        worker.actor(operation("put", int.class), id);
                                    }
                                    return Unit.INSTANCE;
                                });
                            }
                            return Unit.INSTANCE;
                        });
                        scenario.post(post -> {
                            post.actor(operation("kill", int.class), 0);
                            post.actor(operation("confirm", int.class), 0);
                            return Unit.INSTANCE;
                        });
                        return Unit.INSTANCE;
                    });
                }
            }
            options.check(PercpuRefLincheckTest.class);
        } finally {
            stripes = 2;
        }
    }

    /**
     * The base owner across kill, resurrect and a second kill, from an uninflated, untouched ref:
     * a {@code tryGetLive} by the owner whose getAndAdd finds base sealed by the kill must fail or
     * return a reference of the resurrected life, its garbage must not reach that life, the
     * non-owner's CAS may lose to the owner's add and inflate while the kill seals, and the last put
     * releases exactly once.
     */
    @Test
    void modelCheckingBaseOwnerAcrossKillAndResurrectFromUninflated() {
        stripes = 4;
        try {
            ModelCheckingOptions options = new ModelCheckingOptions()
                    .iterations(0)
                    .invocationsPerIteration(Math.max(INVOCATIONS, 400))
                    .sequentialSpecification(PercpuRefSequentialSpec.class);
            for (int[] roles : new int[][] {{2, 3}, {3, 2}}) {
                int live = roles[0];
                options.addCustomScenario(scenario -> {
                    scenario.parallel(parallel -> {
                        parallel.thread(owner -> {
                            owner.actor(operation("kill", int.class), 1);
                            owner.actor(operation("resurrect"));
                            owner.actor(operation("confirm", int.class), 1);
                            owner.actor(operation("kill", int.class), 1);
                            owner.actor(operation("confirm", int.class), 1);
                            return Unit.INSTANCE;
                        });
                        for (int thread = 2; thread <= 3; thread++) {
                            int id = thread;
                            parallel.thread(worker -> {
                                if (id == live) {
                                    worker.actor(operation("tryGetLive", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                    worker.actor(operation("tryGetLive", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                } else {
                                    worker.actor(operation("tryGet", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                    worker.actor(operation("tryGet", int.class), id);
                                    worker.actor(operation("put", int.class), id);
                                }
                                return Unit.INSTANCE;
                            });
                        }
                        return Unit.INSTANCE;
                    });
                    return Unit.INSTANCE;
                });
            }
            options.check(PercpuRefLincheckTest.class);
        } finally {
            stripes = 2;
        }
    }

    @Test
    void stress() {
        new StressOptions()
                .threads(THREADS)
                .actorsPerThread(4)
                .actorsBefore(2)
                .actorsAfter(2)
                .iterations(ITERATIONS + 5)      // scenarios
                .invocationsPerIteration(Math.max(1_000, INVOCATIONS)) // runs of each scenario
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

    /** Takes two references at once, if the thread holds one ({@code get(2)}). */
    @Operation
    public String getTwo(@Param(gen = ThreadIdGen.class) int thread) {
        if (held[thread] == 0) {
            return NONE_HELD;
        }
        ref.get(2);
        held[thread] += 2;
        return withReleases("got");
    }

    /** Drops two references at once, if the thread holds two ({@code put(2)}). */
    @Operation
    public String putTwo(@Param(gen = ThreadIdGen.class) int thread) {
        if (held[thread] < 2) {
            return NONE_HELD;
        }
        held[thread] -= 2;
        ref.put(2);
        return withReleases("put");
    }

    /** Passes one of the thread's references to the shared pool; the ref is not touched. */
    @Operation
    public String handOff(@Param(gen = ThreadIdGen.class) int thread) {
        if (held[thread] == 0) {
            return NONE_HELD;
        }
        held[thread]--;
        handedOff.incrementAndGet();
        return "handed off";
    }

    /**
     * Takes over a reference some thread handed off, if there is one; the ref is not touched. The
     * thread then holds it and may put it on its own stripe: taken on one stripe, dropped on another.
     */
    @Operation
    public String takeHandedOff(@Param(gen = ThreadIdGen.class) int thread) {
        for (;;) {
            int pool = handedOff.get();
            if (pool == 0) {
                return NONE_HELD;
            }
            if (handedOff.compareAndSet(pool, pool - 1)) {
                held[thread]++;
                return "taken over";
            }
        }
    }

    /** Publishes the stripe array, as contention on the base slot would. */
    @Operation
    public void inflate() {
        PercpuRefTestAccess.inflate(ref);
    }

    /** Doubles the stripe table, as a thread finding every stripe owned by others would. */
    @Operation
    public void grow() {
        PercpuRefTestAccess.grow(ref);
    }

    @Operation
    public String switchToAtomic() {
        ref.switchToAtomicSync();
        return "switched";
    }

    @Operation
    public String switchToPercpu() {
        ref.switchToPercpu();
        return "switched";
    }

    @Operation
    public String reinit() {
        try {
            ref.reinit();
        } catch (IllegalStateException e) {
            return withReleases(ILLEGAL_STATE);
        }
        return withReleases("reinitialized");
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
     * Whether {@code approximateCount()} covers the initial reference and thread 0's, for scenarios
     * in which thread 0 does not run and the ref stays live (not an {@code @Operation}: random
     * scenarios must not pick it).
     */
    public boolean countCoversThreadZero() {
        return ref.approximateCount() >= 1 + held[0];
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
        long expected = (ref.isDying() ? 0 : 1) + handedOff.get();
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
