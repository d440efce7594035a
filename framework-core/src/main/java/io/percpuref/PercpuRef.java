package io.percpuref;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * A per-CPU reference count with the lifecycle of Linux's {@code percpu_ref}: live, then
 * {@linkplain #kill() killed} (dying), then released when the last reference is put.
 *
 * <p>While the ref is live, {@link #get()} and {@link #put()} touch a per-thread stripe instead of
 * one shared counter, so they scale with cores. {@link #kill()} switches the ref to atomic mode,
 * after which the count is exact and the put that brings it to zero runs the release callback,
 * exactly once per life.
 *
 * <pre>{@code
 * PercpuRef ref = PercpuRef.builder()
 *         .name("aio-ctx-7")
 *         .onRelease(r -> ring.free())
 *         .onConfirmKill(r -> table.remove(7))
 *         .build();
 * if (ref.tryGetLive()) {
 *     try { submit(); } finally { ref.put(); }
 * }
 * ref.kill();   // drops the initial reference; ring.free() runs when the last holder puts
 * }</pre>
 *
 * <h2>Guarantees</h2>
 * <ol>
 *   <li><b>Exactly-once release per life.</b> The release callback runs once when the count reaches
 *   zero, never while a reference obtained by a successful {@code get}/{@code tryGet}/
 *   {@code tryGetLive} is held, never twice. A life ends at release; {@link #resurrect()} and
 *   {@link #reinit()} start the next one.</li>
 *   <li><b>Confirm before release.</b> The confirm callbacks and the stage returned by
 *   {@code kill()} complete strictly before release runs for that life.</li>
 *   <li><b>Kill is linearizable.</b> Every {@link #tryGetLive()} that starts after {@code kill()}
 *   has returned fails (until a {@code resurrect}/{@code reinit}). A {@code tryGetLive()} concurrent
 *   with {@code kill()} either fails or succeeds with a real reference that release waits for. The
 *   kernel only promises this once the confirm callback has run, an RCU grace period later; here
 *   there is no grace period: {@code kill()} completes the switch itself, without waiting for any
 *   other thread, and without a global lock.</li>
 *   <li><b>Memory ordering</b> (Java memory model):
 *     <ul>
 *       <li>every action of a thread before its {@code put()} <i>happens-before</i> the release
 *       callback of that life;</li>
 *       <li>{@code kill()} <i>happens-before</i> the confirm callbacks, and they happen-before the
 *       completion of the kill stage, which happens-before release;</li>
 *       <li>a successful {@code tryGetLive()} that returns {@code true} was linearized before the
 *       kill: the write of the dying flag in {@code kill()} <i>happens-before</i> every
 *       {@code tryGetLive()} that reads it and fails, and {@code kill()} returns only after every
 *       stripe is sealed, so a later {@code tryGetLive()} can neither miss the flag nor add to a
 *       stripe;</li>
 *       <li>completion of a returned stage happens-before the actions that depend on it (standard
 *       {@link CompletionStage} semantics).</li>
 *     </ul></li>
 *   <li><b>Misuse is loud.</b> A second {@code kill()} in one life, {@code put} below zero in
 *   atomic mode, {@code get} on a released ref, {@code resurrect}/{@code reinit} in the wrong state
 *   or without {@code allowReinit} throw {@link IllegalStateException} and change nothing;
 *   {@code n <= 0} throws {@link IllegalArgumentException}; a null argument throws
 *   {@link NullPointerException} naming it. An over-put made in per-CPU mode cannot be seen at the
 *   time (no stripe knows the total); it is detected when the ref switches to atomic mode and
 *   reported to the error reporter with the negative sum.</li>
 *   <li><b>Callback failures are contained.</b> A release or confirm callback that throws is
 *   reported to the error reporter; the ref still counts as released/confirmed.</li>
 *   <li><b>No global lock.</b> Mode switches of different refs never contend; each ref has its
 *   own small lock for its control operations, never taken by {@code get}/{@code tryGet}/
 *   {@code tryGetLive} or by a {@code put} that does not reach zero.</li>
 * </ol>
 *
 * <p>See {@code docs/semantics.md} for the full contract and the kernel API mapping.
 */
public final class PercpuRef {

    /*
     * Implementation overview
     * -----------------------
     * The count is split in two parts, as in lib/percpu-refcount.c:
     *
     *   count    the atomic part. In per-CPU mode it holds BIAS + (references counted atomically);
     *            in atomic mode it is the exact count, and the put that takes it to zero releases.
     *   slots    per-CPU deltas: the `base` field and, once contention has been seen, a padded
     *            long[] of stripes. Each slot counts gets minus puts made through it, so it may be
     *            negative; only the sum of all slots plus (count - BIAS) is meaningful.
     *
     * Sealable slots (the "CAS" design): the fast path reads its slot and CASes v -> v+delta unless
     * v == SEALED. Switching to atomic mode (kill, switchToAtomic) seals every slot with getAndSet,
     * which captures its exact value, then adds (sum - BIAS) to count in one atomic add. A thread
     * that finds its slot sealed takes the slow path, which works on `count` directly. So no
     * increment can be lost or counted twice, and once the last slot is sealed nobody can add to a
     * slot: that is why the switch is synchronous and needs no grace period (the kernel needs RCU
     * because this_cpu_add is not an atomic read-modify-write).
     *
     * Bias: while any slot is (or may still be) in use, count carries BIAS = 2^62, so it cannot
     * reach zero however the deltas are distributed between slots and count. BIAS is removed in
     * the same atomic add that folds in the sealed sum, and added back before any slot is
     * unsealed on the way back to per-CPU mode.
     *
     * Inflation: a new ref has no stripe array (stripes == null) and counts through `base`, so an
     * idle ref costs one object. The first failed CAS on `base` that is not caused by sealing
     * inflates: a padded long[] is CAS-published into `stripes` and from then on threads pick a
     * stripe by a Fibonacci hash of their thread id. The array is never replaced; sealing CASes a
     * null `stripes` to the SEALED_NO_STRIPES marker so that nobody can inflate behind the switch.
     *
     * Linearizability of kill (Guarantee 3): kill sets DEAD (volatile write) and then seals every
     * slot, all before it returns. tryGetLive reads DEAD first; if it is clear, the thread adds to
     * an unsealed slot (the increment is captured by the seal, so release waits for it) or finds
     * the slot sealed and takes the slow path, which re-reads DEAD before each CAS on `count`.
     * A tryGetLive that starts after kill returned therefore reads DEAD and fails. A slot is
     * unsealed only while the ref is live in per-CPU mode; a CAS that succeeds on a slot whose old
     * value the thread read before a seal/unseal cycle (ABA) is a real reference of the new life,
     * and the thread's interval contains that life's live period, so it linearizes there.
     *
     * Control operations (kill, switchToAtomic/Percpu, resurrect, reinit, and the put that takes the
     * count to zero) serialize on this ref's own `control` lock. They never run user code while
     * holding it: callbacks are dispatched after unlock. The zero transition happens under the lock
     * so that RELEASED, the released stage of the life and count == 0 change together; resurrect
     * and reinit therefore see a consistent life.
     *
     * Resurrect/reinit from zero change two variables (count 0 -> 1, then clear DEAD | RELEASED) that
     * readers read separately. The linearization point is the count leaving zero: readers of the
     * count (get, tryGet, isZero) need nothing more, and readers of the flags (tryGetLive, isDying)
     * that see DEAD | RELEASED consult the count: non-zero means the new life has begun. (Found by
     * the Lincheck model checker: with flags alone, a tryGet could succeed and a later isDying on the
     * same thread still return true.) A kill's deferred initial-reference drop may land after a
     * concurrent resurrect; the life then simply continues, as in the kernel.
     *
     * Memory: the fast path uses volatile-mode CAS on the slot; sealing uses getAndSet; `count` is
     * changed only with atomic read-modify-writes. These form synchronizes-with chains, which give
     * the happens-before edges stated in the class javadoc.
     *
     * Limits: two threads whose ids hash to the same stripe share it (CAS retries, no rehash);
     * the stripe array is not deflated. approximateCount() is not a snapshot.
     */

    /** Whether the ref is counted per-CPU (stripes) or in one atomic counter. */
    public enum Mode {
        /** Gets and puts go to per-thread stripes; zero cannot be detected. */
        PERCPU,
        /** Gets and puts go to one atomic counter; the put that reaches zero releases. */
        ATOMIC
    }

    /** Added to {@link #count} while slots may be in use, so it cannot reach zero. */
    static final long BIAS = 1L << 62;
    /** Value of a sealed slot; a legitimate delta never gets near it. */
    static final long SEALED = Long.MIN_VALUE;
    /** Longs per stripe: 128 bytes, so two stripes never share a cache line or an adjacent pair. */
    static final int PAD = 16;
    /** Largest number of stripes a ref may be built with. */
    static final int MAX_STRIPES = 1 << 16;
    /** {@code stripes} value once sealed before any inflation: nobody may inflate behind a switch. */
    private static final long[] SEALED_NO_STRIPES = new long[0];
    /** Returned by switchToAtomic(): read-only, so one instance serves every ref. */
    private static final CompletionStage<Void> COMPLETED =
            CompletableFuture.<Void>completedFuture(null).minimalCompletionStage();
    /** Fibonacci hashing multiplier: spreads consecutive thread ids over distant stripes. */
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    /** Killed in this life: tryGetLive fails. Cleared by resurrect/reinit. */
    private static final int DEAD = 1;
    /** Atomic mode: all slots are sealed and {@link #count} is exact. */
    private static final int ATOMIC = 1 << 1;
    /** Sticky: stay atomic until switchToPercpu(). */
    private static final int FORCE_ATOMIC = 1 << 2;
    /** The count reached zero in this life and release has been dispatched. */
    private static final int RELEASED = 1 << 3;

    private static final AtomicLong UNNAMED = new AtomicLong();
    private static final System.Logger LOGGER = System.getLogger(PercpuRef.class.getName());
    private static final Consumer<PercpuRefException> LOGGING_REPORTER =
            e -> LOGGER.log(System.Logger.Level.ERROR, e.getMessage(), e.getCause());
    private static volatile Consumer<? super PercpuRefException> defaultErrorReporter = LOGGING_REPORTER;

    private static final VarHandle COUNT;
    private static final VarHandle BASE;
    private static final VarHandle STRIPES;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            COUNT = lookup.findVarHandle(PercpuRef.class, "count", long.class);
            BASE = lookup.findVarHandle(PercpuRef.class, "base", long.class);
            STRIPES = lookup.findVarHandle(PercpuRef.class, "stripes", long[].class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Diagnostics name; appears in every exception and report. */
    private final String name;
    /** Runs once per life when the count reaches zero. */
    private final Consumer<? super PercpuRef> onRelease;
    /** Runs once per kill, before the kill stage completes; may be null. */
    private final Consumer<? super PercpuRef> onConfirmKill;
    /** Where callbacks run; null means inline in the triggering thread. */
    private final Executor callbackExecutor;
    /** Per-ref error reporter; null means the process-wide default. */
    private final Consumer<? super PercpuRefException> errorReporter;
    /** Whether resurrect()/reinit() are permitted. */
    private final boolean allowReinit;
    /** Number of stripes once inflated (a power of two). */
    private final int stripeCount;
    /** Right shift that turns a 64-bit Fibonacci hash into a stripe index (64 - log2(stripeCount)). */
    private final int stripeShift;
    /** Serializes this ref's control operations; never held while user code runs. */
    private final ReentrantLock control = new ReentrantLock();

    /** The atomic part of the count; BIAS-ed in per-CPU mode. Changed only by atomic RMW. */
    private volatile long count;
    /** The per-CPU slot used before inflation; SEALED in atomic mode. */
    private volatile long base;
    /** null (not inflated), SEALED_NO_STRIPES (sealed before inflation), or the padded stripes. */
    private volatile long[] stripes;
    /** DEAD | ATOMIC | FORCE_ATOMIC | RELEASED; written only under {@link #control}. */
    private volatile int state;
    /** Completes after the release callback of the current life; created lazily. Guarded by control. */
    private CompletableFuture<Void> releasedStage;

    private PercpuRef(Builder b) {
        this.name = b.name != null ? b.name : "percpu-ref-" + UNNAMED.incrementAndGet();
        this.onRelease = b.onRelease;
        this.onConfirmKill = b.onConfirmKill;
        this.callbackExecutor = b.callbackExecutor;
        this.errorReporter = b.errorReporter;
        this.allowReinit = b.allowReinit || b.initAtomic || b.initDead;
        this.stripeCount = b.stripes != 0 ? b.stripes : defaultStripes();
        this.stripeShift = 64 - Integer.numberOfTrailingZeros(stripeCount);
        if (b.initDead) {
            this.count = 0;
            this.base = SEALED;
            this.stripes = SEALED_NO_STRIPES;
            this.state = DEAD | RELEASED | ATOMIC | (b.initAtomic ? FORCE_ATOMIC : 0);
            this.releasedStage = CompletableFuture.completedFuture(null);
        } else if (b.initAtomic) {
            this.count = 1;
            this.base = SEALED;
            this.stripes = SEALED_NO_STRIPES;
            this.state = ATOMIC | FORCE_ATOMIC;
        } else {
            this.count = BIAS + 1;
            this.state = 0;
        }
    }

    private static int defaultStripes() {
        int cpus = Runtime.getRuntime().availableProcessors();
        return Math.min(64, Integer.highestOneBit(Math.max(1, 2 * cpus - 1)) << 1);
    }

    /** Starts building a ref; see {@link Builder}. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Shorthand for a ref with default settings whose release callback runs {@code release}.
     *
     * @throws NullPointerException if {@code release} is null
     */
    public static PercpuRef create(Runnable release) {
        Objects.requireNonNull(release, "release");
        return builder().onRelease(r -> release.run()).build();
    }

    /**
     * Replaces the process-wide error reporter used by refs built without
     * {@link Builder#errorReporter(Consumer)}. The default logs through {@link System.Logger} at
     * {@code ERROR}.
     *
     * @throws NullPointerException if {@code reporter} is null
     */
    public static void setErrorReporter(Consumer<? super PercpuRefException> reporter) {
        defaultErrorReporter = Objects.requireNonNull(reporter, "reporter");
    }

    /** Restores the default process-wide error reporter (logging through {@link System.Logger}). */
    public static void resetErrorReporter() {
        defaultErrorReporter = LOGGING_REPORTER;
    }

    // ------------------------------------------------------------------------------------------
    // Fast paths
    // ------------------------------------------------------------------------------------------

    /**
     * Takes a reference. The caller must already hold one (or be the creator holding the initial
     * reference). In per-CPU mode this is one CAS on the calling thread's stripe.
     *
     * @throws IllegalStateException if the ref is released (its count is zero)
     */
    public void get() {
        if (!addToSlot(1)) {
            getAtomic(1);
        }
    }

    /**
     * Takes {@code n} references at once; see {@link #get()}.
     *
     * @throws IllegalArgumentException if {@code n <= 0}
     * @throws IllegalStateException    if the ref is released
     */
    public void get(long n) {
        requirePositive(n);
        if (!addToSlot(n)) {
            getAtomic(n);
        }
    }

    /**
     * Takes a reference unless the count is zero (the ref has been released). Succeeds on a dying
     * ref that still has holders, like {@code percpu_ref_tryget}.
     *
     * @return whether a reference was taken; if so, the caller must {@link #put()} it
     */
    public boolean tryGet() {
        return addToSlot(1) || tryGetAtomic(1);
    }

    /**
     * Takes {@code n} references unless the count is zero; see {@link #tryGet()}.
     *
     * @throws IllegalArgumentException if {@code n <= 0}
     */
    public boolean tryGet(long n) {
        requirePositive(n);
        return addToSlot(n) || tryGetAtomic(n);
    }

    /**
     * Takes a reference only if the ref is live (not killed). Linearizable with {@link #kill()}:
     * fails whenever it starts after {@code kill()} returned; if concurrent with {@code kill()} it
     * either fails or returns a real reference that release waits for.
     *
     * @return whether a reference was taken; if so, the caller must {@link #put()} it
     */
    public boolean tryGetLive() {
        // acquire: a DEAD written by kill() is seen here, and with it everything before kill()
        return ((state & DEAD) == 0 && addToSlot(1)) || tryGetLiveAtomic();
    }

    /**
     * Drops a reference. In per-CPU mode this is one CAS on the calling thread's stripe; in
     * atomic mode the put that reaches zero runs the release callback (inline, or on the callback
     * executor).
     *
     * @throws IllegalStateException in atomic mode, if the count would go below zero (the count is
     *                               left unchanged and release does not run again)
     */
    public void put() {
        if (!addToSlot(-1)) {
            putAtomic(1);
        }
    }

    /**
     * Drops {@code n} references at once; see {@link #put()}.
     *
     * @throws IllegalArgumentException if {@code n <= 0}
     * @throws IllegalStateException    in atomic mode, if the count would go below zero
     */
    public void put(long n) {
        requirePositive(n);
        if (!addToSlot(-n)) {
            putAtomic(n);
        }
    }

    /**
     * Adds {@code delta} to the calling thread's slot unless it is sealed.
     *
     * @return false if the slot is sealed: the caller must use the atomic counter
     */
    private boolean addToSlot(long delta) {
        long[] s = stripes;
        if (s == null) {
            long v = base;
            if (v == SEALED) {
                return false;
            }
            if (casBase(v, v + delta)) {
                return true;
            }
            // Lost a race on base: either it was just sealed, or two threads share it. Inflate.
            s = inflate();
        }
        return addToStripe(s, delta);
    }

    private boolean addToStripe(long[] s, long delta) {
        if (s.length == 0) {
            return false; // SEALED_NO_STRIPES
        }
        int i = stripeOffset();
        for (;;) {
            long v = slotVolatile(s, i);
            if (v == SEALED) {
                return false;
            }
            if (casSlot(s, i, v, v + delta)) {
                return true;
            }
        }
    }

    /** Index into the stripe array of the calling thread's stripe (one leading pad line). */
    private int stripeOffset() {
        long h = Thread.currentThread().getId() * GOLDEN;
        int stripe = stripeCount == 1 ? 0 : (int) (h >>> stripeShift);
        return (stripe + 1) * PAD;
    }

    /** Publishes the stripe array unless another thread did, or a switch sealed it first. */
    private long[] inflate() {
        long[] s = stripes;
        if (s != null) {
            return s;
        }
        long[] fresh = new long[(stripeCount + 1) * PAD];
        // release: the zeroed array is published before any thread adds to it
        long[] witness = (long[]) STRIPES.compareAndExchange(this, (long[]) null, fresh);
        return witness == null ? fresh : witness;
    }

    // ------------------------------------------------------------------------------------------
    // Atomic-mode slow paths
    // ------------------------------------------------------------------------------------------

    private void getAtomic(long n) {
        if (!tryGetAtomic(n)) {
            throw misuse("get() on a released ref: the count is zero");
        }
    }

    private boolean tryGetAtomic(long n) {
        for (;;) {
            long c = count;
            if (c == 0) {
                return false;
            }
            if (casCount(c, c + n)) {
                return true;
            }
        }
    }

    /**
     * tryGetLive() on the atomic counter: after a failed slot add, or straight away on a dying ref.
     * DEAD alone fails. DEAD | RELEASED normally means count zero and fails too; a non-zero count
     * there means a resurrect()/reinit() has already re-taken the initial reference (it does so
     * before clearing the flags): that new life is live, so take a reference in it.
     */
    private boolean tryGetLiveAtomic() {
        for (;;) {
            int s = state;
            if ((s & DEAD) != 0) {
                return (s & RELEASED) != 0 && tryGetAtomic(1);
            }
            long c = count;
            if (c == 0) {
                return false;
            }
            if (casCount(c, c + 1)) {
                return true;
            }
        }
    }

    private void putAtomic(long n) {
        for (;;) {
            long c = count;
            long next = c - n;
            if (next < 0) {
                throw putBelowZero(n, c);
            }
            if (next == 0) {
                putToZero(n);
                return;
            }
            if (casCount(c, next)) {
                return;
            }
        }
    }

    private IllegalStateException putBelowZero(long n, long c) {
        return misuse("put(" + n + ") would take the count below zero (count=" + c + ")");
    }

    /**
     * The put that may take the count to zero. Runs under the control lock so that the zero
     * transition, the RELEASED flag and the capture of this life's released stage happen together.
     */
    private void putToZero(long n) {
        CompletableFuture<Void> stage;
        control.lock();
        try {
            for (;;) {
                long c = count;
                long next = c - n;
                if (next < 0) {
                    throw putBelowZero(n, c);
                }
                if (casCount(c, next)) {
                    if (next > 0) {
                        return;
                    }
                    break;
                }
            }
            state |= RELEASED;
            stage = releasedStage;
            if (stage == null) {
                stage = new CompletableFuture<>();
                releasedStage = stage;
            }
        } finally {
            control.unlock();
        }
        CompletableFuture<Void> released = stage;
        dispatch(() -> runRelease(released), "release");
    }

    // ------------------------------------------------------------------------------------------
    // Kill and mode switches
    // ------------------------------------------------------------------------------------------

    /**
     * Kills the ref: marks it dying so that {@link #tryGetLive()} fails, switches it to atomic mode,
     * then (after the confirm callback) drops the initial reference. The ref is released when the
     * last holder puts. Equivalent to {@code percpu_ref_kill}.
     *
     * <p>The switch completes before this method returns, without waiting for other threads. The
     * returned stage completes after the builder's confirm callback has run, which is before this
     * method returns unless a callback executor is configured; it completes normally even if the
     * callback throws (the failure goes to the error reporter).
     *
     * @return a stage that completes when the kill is confirmed, strictly before release
     * @throws IllegalStateException if the ref is already dying or released in this life
     */
    public CompletionStage<Void> kill() {
        return killAndConfirm(null);
    }

    /**
     * Kills the ref as {@link #kill()} does and also runs {@code confirm} once the kill is confirmed,
     * after the builder's confirm callback and before release. Equivalent to
     * {@code percpu_ref_kill_and_confirm}.
     *
     * @throws NullPointerException  if {@code confirm} is null
     * @throws IllegalStateException if the ref is already dying or released in this life
     */
    public CompletionStage<Void> kill(Consumer<? super PercpuRef> confirm) {
        return killAndConfirm(Objects.requireNonNull(confirm, "confirm"));
    }

    private CompletionStage<Void> killAndConfirm(Consumer<? super PercpuRef> confirm) {
        CompletableFuture<Void> confirmed = new CompletableFuture<>();
        long overPut;
        control.lock();
        try {
            int s = state;
            if ((s & DEAD) != 0) {
                throw misuse("kill() called twice in one life");
            }
            if ((s & RELEASED) != 0) {
                throw misuse("kill() on a released ref");
            }
            // release: from here every tryGetLive() that reads state fails
            state = s | DEAD;
            overPut = (s & ATOMIC) == 0 ? switchToAtomicLocked() : 0;
        } finally {
            control.unlock();
        }
        reportOverPut(overPut);
        // The initial reference is still held, so release cannot run before confirm.
        dispatch(() -> confirmAndDropInitial(confirm, confirmed), "confirm");
        return confirmed.minimalCompletionStage();
    }

    private void confirmAndDropInitial(Consumer<? super PercpuRef> confirm, CompletableFuture<Void> confirmed) {
        try {
            runCallback(onConfirmKill, "confirm");
            runCallback(confirm, "confirm");
            confirmed.complete(null);
        } finally {
            put();
        }
    }

    /**
     * Sets the sticky force-atomic flag and switches to atomic mode. The switch is complete when
     * this method returns (no grace period), so the returned stage is already complete. Equivalent
     * to {@code percpu_ref_switch_to_atomic}.
     *
     * @return an already completed stage
     */
    public CompletionStage<Void> switchToAtomic() {
        switchToAtomicSync();
        return COMPLETED;
    }

    /**
     * Sets the sticky force-atomic flag and returns once every thread counts in atomic mode.
     * Equivalent to {@code percpu_ref_switch_to_atomic_sync}.
     */
    public void switchToAtomicSync() {
        long overPut;
        control.lock();
        try {
            int s = state;
            state = s | FORCE_ATOMIC;
            overPut = (s & ATOMIC) == 0 ? switchToAtomicLocked() : 0;
        } finally {
            control.unlock();
        }
        reportOverPut(overPut);
    }

    /**
     * Clears the force-atomic flag. A live ref switches to per-CPU mode now; a dying or released
     * ref stays atomic and switches at the next {@link #resurrect()} / {@link #reinit()}.
     * Equivalent to {@code percpu_ref_switch_to_percpu}.
     */
    public void switchToPercpu() {
        control.lock();
        try {
            int s = state & ~FORCE_ATOMIC;
            state = s;
            if ((s & (ATOMIC | DEAD | RELEASED)) == ATOMIC) {
                switchToPercpuLocked();
            }
        } finally {
            control.unlock();
        }
    }

    /**
     * Brings a dying ref back to life: re-takes the initial reference, clears the dying flag and
     * switches back to per-CPU mode unless force-atomic is set. The count need not be zero: holders
     * keep their references. If the ref was already released (count zero), a new life starts, with
     * a fresh {@link #released()} stage. Equivalent to {@code percpu_ref_resurrect}.
     *
     * @throws IllegalStateException if the ref was built without {@code allowReinit}, or is not dying
     */
    public void resurrect() {
        control.lock();
        try {
            requireReinitAllowed("resurrect()");
            if ((state & DEAD) == 0) {
                throw misuse("resurrect() requires a dying ref");
            }
            startLifeLocked();
        } finally {
            control.unlock();
        }
    }

    /**
     * Brings a released ref (count zero) back to life as freshly built: holding the initial
     * reference, not dying, in per-CPU mode unless force-atomic is set, with a fresh
     * {@link #released()} stage. Equivalent to {@code percpu_ref_reinit}.
     *
     * @throws IllegalStateException if the ref was built without {@code allowReinit}, or its count is
     *                               not zero
     */
    public void reinit() {
        control.lock();
        try {
            requireReinitAllowed("reinit()");
            if ((state & RELEASED) == 0) {
                throw misuse("reinit() requires a released ref (count zero)");
            }
            startLifeLocked();
        } finally {
            control.unlock();
        }
    }

    private void requireReinitAllowed(String op) {
        if (!allowReinit) {
            throw misuse(op + " requires a ref built with allowReinit(), initAtomic() or initDead()");
        }
    }

    /**
     * Re-takes the initial reference and goes live; a released ref starts a new life.
     *
     * <p>The count is raised before the flags are cleared, so a live ref never has count 0. For a
     * released ref the linearization point is the count leaving zero: tryGet/get/isZero read only the
     * count, and tryGetLive/isDying treat "DEAD | RELEASED with a non-zero count" as the new life.
     */
    private void startLifeLocked() {
        int s = state;
        if ((s & RELEASED) != 0) {
            releasedStage = null;
        }
        COUNT.getAndAdd(this, 1L);
        s &= ~(DEAD | RELEASED);
        state = s;
        if ((s & FORCE_ATOMIC) == 0) {
            switchToPercpuLocked();
        }
    }

    /**
     * Seals every slot, folds their sum into the atomic counter and removes the bias. After this,
     * no thread can add to a slot until {@link #switchToPercpuLocked()}.
     *
     * @return how many more puts than gets were found (0 normally); the caller reports it after
     *         unlocking, so that no user code runs under the control lock
     */
    private long switchToAtomicLocked() {
        long sum = getAndSetBase(SEALED);
        long[] s = stripes;
        if (s == null) {
            // Seal the stripes field too, so that nobody inflates behind the switch.
            s = (long[]) STRIPES.compareAndExchange(this, (long[]) null, SEALED_NO_STRIPES);
        }
        if (s != null) {
            for (int i = PAD; i < s.length; i += PAD) {
                sum += getAndSetSlot(s, i, SEALED);
            }
        }
        long c = (long) COUNT.getAndAdd(this, sum - BIAS) + sum - BIAS;
        state |= ATOMIC;
        if (c >= 1) {
            return 0;
        }
        // The creator's initial reference (or kill's, still held) makes the true count >= 1.
        COUNT.getAndAdd(this, 1 - c);
        return 1 - c;
    }

    private void reportOverPut(long overPut) {
        if (overPut != 0) {
            report("over-put detected when switching to atomic mode: the count summed to " + (1 - overPut)
                    + " while the initial reference was still held (" + overPut
                    + " more put than get in per-CPU mode); the count was reset to 1", null);
        }
    }

    /** Adds the bias back, then unseals the slots; the reverse order could let count hit zero. */
    private void switchToPercpuLocked() {
        COUNT.getAndAdd(this, BIAS);
        long[] s = stripes;
        if (s == SEALED_NO_STRIPES) {
            stripes = null;
        } else if (s != null) {
            for (int i = PAD; i < s.length; i += PAD) {
                setSlotVolatile(s, i, 0L);
            }
        }
        base = 0L;
        state &= ~ATOMIC;
    }

    // ------------------------------------------------------------------------------------------
    // Queries
    // ------------------------------------------------------------------------------------------

    /**
     * Completes after the release callback of the current life has run (normally or not). A ref
     * built with {@link Builder#initDead()} counts as released. After {@link #resurrect()} from zero
     * or {@link #reinit()}, a new stage is returned for the new life.
     */
    public CompletionStage<Void> released() {
        control.lock();
        try {
            if (releasedStage == null) {
                releasedStage = new CompletableFuture<>();
            }
            return releasedStage.minimalCompletionStage();
        } finally {
            control.unlock();
        }
    }

    /** True iff the ref is in atomic mode and its count is zero. Always false in per-CPU mode. */
    public boolean isZero() {
        return (state & ATOMIC) != 0 && count == 0;
    }

    /** True once the ref has been killed in this life (dying or released), until resurrect/reinit. */
    public boolean isDying() {
        int s = state;
        if ((s & DEAD) == 0) {
            return false;
        }
        // DEAD | RELEASED with a non-zero count: a resurrect/reinit is past its linearization point
        // (the count leaving zero) but has not cleared the flags yet.
        return (s & RELEASED) == 0 || count == 0;
    }

    /** The current counting mode. */
    public Mode mode() {
        return (state & ATOMIC) != 0 ? Mode.ATOMIC : Mode.PERCPU;
    }

    /**
     * The count as the sum of the stripes and the atomic part, read one after another: NOT an atomic
     * snapshot, and may be off while gets and puts are in flight or a switch is under way. Exact in
     * atomic mode when quiescent. For metrics and diagnostics only.
     */
    public long approximateCount() {
        if ((state & ATOMIC) != 0) {
            return count;
        }
        long sum = count - BIAS;
        long v = base;
        if (v != SEALED) {
            sum += v;
        }
        long[] s = stripes;
        if (s != null) {
            for (int i = PAD; i < s.length; i += PAD) {
                long x = slotVolatile(s, i);
                if (x != SEALED) {
                    sum += x;
                }
            }
        }
        return sum;
    }

    /** The configured name (or a generated {@code percpu-ref-N}). */
    public String name() {
        return name;
    }

    /** For example {@code PercpuRef[aio-ctx-7: DYING, ATOMIC, count=3]}. */
    @Override
    public String toString() {
        return "PercpuRef[" + name + ": " + describeState() + "]";
    }

    private String describeState() {
        int s = state;
        String life = (s & RELEASED) != 0 ? "RELEASED" : (s & DEAD) != 0 ? "DYING" : "LIVE";
        String mode = (s & ATOMIC) != 0 ? "ATOMIC" : "PERCPU";
        return life + ", " + mode + ((s & FORCE_ATOMIC) != 0 ? " (forced)" : "")
                + ", count=" + approximateCount();
    }

    // ------------------------------------------------------------------------------------------
    // Callbacks and errors
    // ------------------------------------------------------------------------------------------

    private void runRelease(CompletableFuture<Void> stage) {
        try {
            runCallback(onRelease, "release");
        } finally {
            stage.complete(null);
        }
    }

    private void runCallback(Consumer<? super PercpuRef> callback, String what) {
        if (callback == null) {
            return;
        }
        try {
            callback.accept(this);
        } catch (Throwable t) {
            report(what + " callback threw " + t, t);
            if (t instanceof VirtualMachineError) {
                throw (VirtualMachineError) t;
            }
        }
    }

    private void dispatch(Runnable task, String what) {
        if (callbackExecutor == null) {
            task.run();
            return;
        }
        try {
            callbackExecutor.execute(task);
        } catch (RejectedExecutionException e) {
            report("callback executor rejected the " + what + " callback; running it inline", e);
            task.run();
        }
    }

    private void report(String message, Throwable cause) {
        PercpuRefException e = new PercpuRefException(name, describeState(), message, cause);
        Consumer<? super PercpuRefException> reporter = errorReporter != null ? errorReporter : defaultErrorReporter;
        try {
            reporter.accept(e);
        } catch (Throwable t) {
            e.addSuppressed(t);
            LOGGING_REPORTER.accept(e);
        }
    }

    private IllegalStateException misuse(String message) {
        return new IllegalStateException("PercpuRef '" + name + "' [" + describeState() + "]: " + message);
    }

    private void requirePositive(long n) {
        if (n <= 0) {
            throw new IllegalArgumentException("PercpuRef '" + name + "' [" + describeState()
                    + "]: n must be positive, was " + n);
        }
    }

    // ------------------------------------------------------------------------------------------
    // VarHandle accessors (the name carries the memory mode)
    // ------------------------------------------------------------------------------------------

    private boolean casCount(long expect, long update) {
        return COUNT.compareAndSet(this, expect, update);
    }

    private boolean casBase(long expect, long update) {
        return BASE.compareAndSet(this, expect, update);
    }

    private long getAndSetBase(long value) {
        return (long) BASE.getAndSet(this, value);
    }

    private static long slotVolatile(long[] s, int i) {
        return (long) SLOT.getVolatile(s, i);
    }

    private static boolean casSlot(long[] s, int i, long expect, long update) {
        return SLOT.compareAndSet(s, i, expect, update);
    }

    private static long getAndSetSlot(long[] s, int i, long value) {
        return (long) SLOT.getAndSet(s, i, value);
    }

    private static void setSlotVolatile(long[] s, int i, long value) {
        SLOT.setVolatile(s, i, value);
    }

    // ------------------------------------------------------------------------------------------
    // Builder
    // ------------------------------------------------------------------------------------------

    /**
     * Configures a {@link PercpuRef}. Only {@link #onRelease(Consumer)} is required. A builder may be
     * reused; each {@link #build()} returns a new ref.
     */
    public static final class Builder {
        private String name;
        private Consumer<? super PercpuRef> onRelease;
        private Consumer<? super PercpuRef> onConfirmKill;
        private Executor callbackExecutor;
        private Consumer<? super PercpuRefException> errorReporter;
        private boolean initAtomic;
        private boolean initDead;
        private boolean allowReinit;
        private int stripes;

        private Builder() {
        }

        /**
         * The name used in diagnostics, metrics and error messages.
         *
         * @throws NullPointerException     if {@code name} is null
         * @throws IllegalArgumentException if {@code name} is blank
         */
        public Builder name(String name) {
            Objects.requireNonNull(name, "name");
            if (name.isBlank()) {
                throw new IllegalArgumentException("name must not be blank");
            }
            this.name = name;
            return this;
        }

        /**
         * Runs exactly once per life, when the count reaches zero. Required.
         *
         * @throws NullPointerException if {@code onRelease} is null
         */
        public Builder onRelease(Consumer<? super PercpuRef> onRelease) {
            this.onRelease = Objects.requireNonNull(onRelease, "onRelease");
            return this;
        }

        /**
         * Runs once per kill, when the kill is confirmed, strictly before release.
         *
         * @throws NullPointerException if {@code onConfirmKill} is null
         */
        public Builder onConfirmKill(Consumer<? super PercpuRef> onConfirmKill) {
            this.onConfirmKill = Objects.requireNonNull(onConfirmKill, "onConfirmKill");
            return this;
        }

        /**
         * Runs the confirm and release callbacks on {@code executor} instead of in the thread that
         * triggers them. If the executor rejects a callback, it runs inline and the rejection is
         * reported.
         *
         * @throws NullPointerException if {@code executor} is null
         */
        public Builder callbackExecutor(Executor executor) {
            this.callbackExecutor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /**
         * Receives callback failures and over-puts detected at switch time for this ref, instead of
         * the process-wide reporter ({@link PercpuRef#setErrorReporter(Consumer)}).
         *
         * @throws NullPointerException if {@code reporter} is null
         */
        public Builder errorReporter(Consumer<? super PercpuRefException> reporter) {
            this.errorReporter = Objects.requireNonNull(reporter, "reporter");
            return this;
        }

        /**
         * Start in atomic mode with the sticky force-atomic flag ({@code PERCPU_REF_INIT_ATOMIC});
         * implies {@link #allowReinit()}.
         */
        public Builder initAtomic() {
            this.initAtomic = true;
            return this;
        }

        /**
         * Start dead: atomic, count zero, release not called; only {@link PercpuRef#reinit()} brings
         * it to life ({@code PERCPU_REF_INIT_DEAD}); implies {@link #allowReinit()}.
         */
        public Builder initDead() {
            this.initDead = true;
            return this;
        }

        /** Permit {@link PercpuRef#resurrect()} and {@link PercpuRef#reinit()} ({@code PERCPU_REF_ALLOW_REINIT}). */
        public Builder allowReinit() {
            this.allowReinit = true;
            return this;
        }

        /**
         * Number of stripes used once the ref sees contention; a power of two from 1 to 65536.
         * Default: twice the available processors rounded up to a power of two, at most 64.
         *
         * @throws IllegalArgumentException if {@code stripes} is not a power of two in range
         */
        public Builder stripes(int stripes) {
            if (stripes < 1 || stripes > MAX_STRIPES || Integer.bitCount(stripes) != 1) {
                throw new IllegalArgumentException(
                        "stripes must be a power of two from 1 to " + MAX_STRIPES + ", was " + stripes);
            }
            this.stripes = stripes;
            return this;
        }

        /**
         * Builds a new ref: live, holding the initial reference (unless {@link #initDead()}).
         *
         * @throws IllegalStateException if no release callback was configured
         */
        public PercpuRef build() {
            if (onRelease == null) {
                throw new IllegalStateException("PercpuRef" + (name != null ? " '" + name + "'" : "")
                        + ": onRelease(...) is required");
            }
            return new PercpuRef(this);
        }
    }
}
