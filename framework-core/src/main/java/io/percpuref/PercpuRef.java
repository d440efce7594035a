package io.percpuref;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
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
 *   {@code tryGetLive} is held, never twice. A life ends when the release callback returns: from
 *   the zero transition until then the ref is <i>releasing</i>, and {@link #resurrect()} and
 *   {@link #reinit()}, which start the next life, wait for the callback to finish.</li>
 *   <li><b>Confirm before release.</b> The confirm callbacks and the stage returned by
 *   {@code kill()} complete strictly before release runs for that life.</li>
 *   <li><b>Kill is linearizable.</b> Every {@link #tryGetLive()} that starts after {@code kill()}
 *   has returned fails (until a {@code resurrect}/{@code reinit}). A {@code tryGetLive()} concurrent
 *   with {@code kill()} either fails or succeeds with a real reference that release waits for. The
 *   kernel only promises this once the confirm callback has run, an RCU grace period later; here
 *   there is no grace period: {@code kill()} completes the switch itself, without a global lock.
 *   The only thing it can wait for is this ref's own lock, held briefly (never while user code
 *   runs) by another control operation on the same ref.</li>
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
 *   {@code n <= 0}, {@code n > }{@link #MAX_COUNT}, or a get that would take an atomic count above
 *   {@link #MAX_COUNT} throws {@link IllegalArgumentException}; a null argument throws
 *   {@link NullPointerException} naming it. An over-put made in per-CPU mode cannot be seen at the
 *   time (no stripe knows the total); it is detected when the ref switches to atomic mode and
 *   reported to the error reporter with the negative sum.</li>
 *   <li><b>Callback failures are contained.</b> A release or confirm callback that throws (an
 *   {@link Error} included) is reported to the error reporter; the ref still counts as
 *   released/confirmed and its stages complete. A callback executor that throws anything from
 *   {@code execute} is reported and the callback runs inline instead: no callback is lost.</li>
 *   <li><b>No global lock.</b> Mode switches of different refs never contend; each ref has its
 *   own small lock for its control operations, made by the first one. {@code get}/{@code tryGet}/{@code tryGetLive}
 *   never wait for it: a get that finds another thread on its stripe may rebuild the stripe table
 *   under it, taken with {@code tryLock} (skipped if busy). A {@code put} takes it only if it reads
 *   an atomic count equal to its {@code n} (it may then find the count has grown and just drop its
 *   references).</li>
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
     *   slots    per-CPU deltas: the `base` field and, once contention has been seen, the stripes of
     *            a padded long[] table. Each slot holds (gets - puts made through it) * 2^13 (one
     *            UNIT), modulo 2^64; only the sum of all slots / UNIT plus (count - BIAS) is
     *            meaningful.
     *
     * Sealable, tagged slots: the low 13 bits of a slot are never changed by an add (adds are
     * multiples of UNIT). Bit 0 is the SEAL; bits 1..12 of a stripe are the owner tag of the thread
     * that claimed it (see Placement). A stripe's fast path is one getAndAdd(n * UNIT) (lock xadd);
     * before inflation, `base` is read and CASed v -> v + n * UNIT unless v is odd, because a lost
     * CAS is the contention signal that inflates. Switching to atomic mode (kill, switchToAtomic)
     * seals every slot with getAndSet(SEALED), which captures its exact value, then adds
     * (sum of the captured values without their low bits) / UNIT - BIAS to count in one atomic add.
     * A thread whose getAndAdd returns an odd old value added after the seal: its add was not
     * captured, stays in the sealed slot as garbage (still odd), and the thread counts on `count`
     * instead (the slow path). Nobody reads a sealed slot's value (the fold captured it at the seal;
     * approximateCount skips odd slots), and the way back to per-CPU mode overwrites every slot with
     * 0, so the garbage needs no undo. (An undo would race with that unseal and is what made this
     * design look unsafe.) So no increment is lost or counted twice, and after the last slot is
     * sealed nothing added to a slot counts: that is why the switch is synchronous and needs no grace
     * period (the kernel needs RCU because this_cpu_add is not an atomic read-modify-write).
     *
     * Why the low bits stay out of arithmetic: a slot used by a thread that only puts (references
     * taken on another thread) falls for ever. With plain deltas and a sealed marker such as
     * Long.MIN_VALUE, arithmetic could reach the marker (2^16 hand-offs of n = 2^47 did), after which
     * the slot looked sealed in per-CPU mode and puts reached the biased count. Adds of multiples of
     * UNIT never touch the low bits, however often the slot wraps: the slots' sum gives the references
     * they carry modulo 2^51, and the fold takes the value that puts the total (with the atomic part)
     * in [-2^50, 2^50) (slotSum), which is exact while the true total is below 2^50, four times
     * MAX_COUNT, however the references are spread between slots and the atomic part. MAX_COUNT (2^48)
     * bounds each operation's n and every atomic-mode count.
     *
     * Bias: while any slot is (or may still be) in use, count carries BIAS = 2^62, so it cannot
     * reach zero however the deltas are distributed between slots and count. BIAS is removed in
     * the same atomic add that folds in the sealed sum, and added back before any slot is
     * unsealed on the way back to per-CPU mode.
     *
     * Inflation: a new ref has no stripe table (stripes == null) and counts through `base`, so an
     * idle ref costs one object. The first thread to count on base owns it (`baseOwner`, the low 24
     * bits of its thread id, set once by CAS) and adds there by getAndAdd, like a stripe; every other thread adds to
     * base by load + CAS. A lost CAS on base that is not caused by sealing inflates: a table of
     * FIRST_TABLE (2) stripes, whose multiplier places the inflating thread and base's owner apart,
     * is CAS-published into `stripes`. (The owner's getAndAdd never fails, so a ref used by its owner
     * alone never inflates, and one that a second thread uses concurrently inflates at that thread's
     * first lost CAS.) Sealing CASes a null `stripes` to the SEALED_NO_STRIPES marker so that nobody
     * can inflate behind the switch. Garbage on base (the owner read stripes == null, then the switch
     * sealed base) is odd and overwritten by the unseal, as on a stripe.
     *
     * Placement: a thread's stripe is the top bits of its key (thread id & KEY_BITS, the id from
     * Thread.threadId() where it exists, see THREAD_ID) times the table's multiplier (table[0]). A
     * get checks the old value's low bits against its tag: its own tag, unsealed, is the fast path.
     * An unclaimed stripe (low bits 0) is claimed by CAS. Another thread's tag means two threads
     * share the stripe (the add has counted all the same: placement decides only where an add goes,
     * never whether it counts): placeApart searches, outside the lock, a multiplier that puts every
     * tagged thread and this one on distinct stripes, at the same size or doubled up to stripeCount(),
     * and replaceTableLocked swaps the table. A put checks the seal only, so that the fast path of
     * the commonest pair costs one tag comparison.
     *
     * Rebuild (under the control lock, taken by tryLock, per-CPU mode only) seals every stripe of the
     * old table with getAndSet, puts the captured sum (and the atomic part, leaving count at its bias)
     * into the new table, whose stripes are claimed in
     * advance for the known threads, and publishes it, inside a switch sequence step. The old table is
     * never unsealed: a thread whose add finds a stripe sealed re-reads `stripes`; a new table means a
     * rebuild (retry there), the same one a switch (go to the atomic counter, whose bias keeps it off
     * zero). Claims carried into a new table are unconfirmed (no MARK) until their thread's get
     * confirms them; they count at a rebuild only while their table is younger than CLAIM_NANOS
     * (1 ms), so a thread that has ended is dropped by the first rebuild a millisecond after its
     * claim was carried. Each table allows REBUILDS_PER_SIZE rebuilds at its
     * size; at the cap, when no multiplier places the known threads apart, it spreads them and
     * settles (table[1] < 0; retried after a back-off from 1 ms to 1 s, rebuilt only if that drops
     * stale claims or places the threads apart) and threads beyond it share.

     * Linearizability of kill (Guarantee 3): kill sets DEAD (volatile write) and then seals every
     * slot, all before it returns. tryGetLive reads DEAD first; if it is clear, the thread adds to
     * an unsealed slot (the increment is captured by the seal, so release waits for it) or finds
     * the slot sealed (its add is garbage) and takes the slow path, which re-reads DEAD before
     * each CAS on `count`. A tryGetLive that starts after kill returned therefore reads DEAD and fails. A slot is
     * unsealed only while the ref is live in per-CPU mode; an add that lands on an unsealed slot
     * after a seal/unseal cycle that began after the thread read DEAD clear is a real reference of
     * the new life, and the thread's interval contains that life's live period, so it linearizes
     * there.
     *
     * Control operations (kill, switchToAtomic/Percpu, resurrect, reinit, and the put that takes the
     * count to zero) serialize on this ref's own `control` lock, made by the first of them (CAS on
     * the field; the release state of the life lives in it too). They never run user code while
     * holding it: callbacks are dispatched after unlock. The zero transition happens under the lock
     * so that RELEASED, the released stage of the life and count == 0 change together; resurrect
     * and reinit therefore see a consistent life. From that transition until the release callback
     * has returned (its stage is done) the ref is releasing: resurrect and reinit wait, outside the
     * lock, for the stage, so a life's release never overlaps the next life.
     *
     * Switch sequence (for approximateCount only): a switch sets SWITCHING and steps a sequence
     * number kept in the high bits of `state` before it moves the bias or any slot, and clears
     * SWITCHING after. approximateCount reads state, the count and the slots, then state again, and
     * retries unless both reads are equal and not switching (a seqlock); after a few retries it
     * reads under the lock, which no switch holds across a read.
     *
     * Resurrect/reinit from zero change two variables (count 0 -> 1, then clear DEAD | RELEASED) that
     * readers read separately. The linearization point is the count leaving zero: readers of the
     * count (get, tryGet, isZero) need nothing more, and readers of the flags (tryGetLive, isDying)
     * that see DEAD | RELEASED consult the count: non-zero means the new life has begun. (Found by
     * the Lincheck model checker: with flags alone, a tryGet could succeed and a later isDying on the
     * same thread still return true.) A kill's deferred initial-reference drop may land after a
     * concurrent resurrect; the life then simply continues, as in the kernel.
     *
     * Memory: the fast path uses volatile-mode getAndAdd on a stripe (CAS on base); sealing uses
     * getAndSet; unsealing a volatile write; a new table is published by a volatile write after its
     * multiplier, claims and moved sum are written; `count` is changed only with atomic
     * read-modify-writes. These form synchronizes-with chains, which give the happens-before edges
     * stated in the class javadoc.
     *
     * Limits: threads whose keys are equal (ids 2048 apart) share a stripe unnoticed; a thread that
     * only puts is placed only by its gets; at the cap, threads beyond it share stripes (their cache
     * lines move between them, but getAndAdd never retries); tags of threads that have ended stay in
     * the table until a rebuild keeps or drops them (they are kept: they count toward the cap); the
     * table never shrinks. approximateCount() is not a snapshot. In per-CPU mode a total above
     * MAX_COUNT is only found at the next switch (reported); beyond a total of 2^50 the fold would be
     * wrong.
     */

    /** Whether the ref is counted per-CPU (stripes) or in one atomic counter. */
    public enum Mode {
        /** Gets and puts go to per-thread stripes; zero cannot be detected. */
        PERCPU,
        /** Gets and puts go to one atomic counter; the put that reaches zero releases. */
        ATOMIC
    }

    /**
     * The largest number of references a ref may count: 2^48 (about 2.8 * 10^14). {@code get(n)},
     * {@code tryGet(n)} and {@code put(n)} with {@code n} above it throw
     * {@link IllegalArgumentException}; in atomic mode a get that would take the count above it
     * throws too. In per-CPU mode no thread knows the total, so a total above it is found, and
     * reported, at the next switch to atomic mode (the count stays exact while it is below 2^50).
     */
    public static final long MAX_COUNT = 1L << 48;

    /** Added to {@link #count} while slots may be in use, so it cannot reach zero. */
    static final long BIAS = 1L << 62;
    /** Low bit of a slot: set iff sealed. Slots count in steps of 2, so no add can set or clear it. */
    static final long SEAL = 1L;
    /** Value a switch writes into a slot it seals. */
    static final long SEALED = SEAL;
    /** Longs per stripe: 128 bytes, so two stripes never share a cache line or an adjacent pair. */
    static final int PAD = 16;
    /**
     * Index of the first stripe: 64 bytes after the header line (the length, which every access
     * reads for its bounds check, and the multiplier), and the table ends 56 bytes after the last
     * stripe, so neither the header nor the next object in the heap shares a cache line with a
     * stripe: {@code n} stripes take {@code 16 + 128 n} bytes.
     */
    static final int FIRST_STRIPE = 8;
    /**
     * A slot counts in units of 2^UNIT_SHIFT: its low bits are the seal bit and, on a stripe, the
     * owner tag of the thread that claimed it, which no add can change.
     */
    static final int UNIT_SHIFT = 13;
    /** The seal bit and the owner tag of a slot. */
    static final long LOW_BITS = (1L << UNIT_SHIFT) - 1;
    /** The bits of a thread id that place it and tag its stripe (ids equal in them share a stripe). */
    static final int KEY_BITS = 0x7FF;
    /** Stripes in the table a ref inflates to (fewer if its cap is lower). */
    static final int FIRST_TABLE = 2;
    /** Index, in a stripe table, of its placement multiplier (on the read-mostly header line). */
    static final int MULTIPLIER = 0;
    /** Index of the number of rebuilds left before the table must grow; negative: settled. */
    static final int REBUILDS = 1;
    /** Index of the number of placement searches at the cap that found nothing. */
    static final int FAILED_SEARCHES = 2;
    /** Searches at the cap that may find nothing before the table spreads the threads and settles. */
    static final int MAX_FAILED_SEARCHES = 32;
    /** Index of the {@code System.nanoTime()} at which the table was built. */
    static final int BUILT = 3;
    /** A settled table may be rebuilt again (at a get that finds another's tag) once this old: 1 ms. */
    static final long SETTLED_RETRY_NANOS = 1_000_000;
    /** One in SETTLED_CHECK_MASK + 1 gets that find another's tag on a settled table checks its back-off. */
    private static final int SETTLED_CHECK_MASK = 63;
    /** Doublings of {@link #SETTLED_RETRY_NANOS} while retries of a settled table gain nothing: 1 s. */
    static final int MAX_BACKOFF = 10;
    /** How long a claim carried into a new table counts without its thread's get confirming it: 1 ms. */
    static final long CLAIM_NANOS = 1_000_000;
    /** Tag bit of a claim confirmed by its thread's own get (a rebuild carries claims unconfirmed). */
    static final long MARK = (KEY_BITS + 1L) << 1;
    /** Rebuilds at the same size a table allows before it must grow (or, at the cap, settles). */
    static final int REBUILDS_PER_SIZE = 8;
    /** Multipliers one search tries per table size when placing known threads on distinct stripes. */
    private static final int PLACEMENT_TRIES = 1 << 12;
    /** Multipliers tried when more threads than stripes are to be spread as evenly as possible. */
    private static final int SPREAD_TRIES = 1 << 12;
    /**
     * The multiplier that places a thread by its key's low bits (key mod n): threads created one after
     * another (a pool's workers) have consecutive ids and take distinct stripes, as many as there are.
     * Tried first wherever a multiplier is chosen.
     */
    static final long KEY_MOD = 1L << 40;
    /** Largest number of stripes a ref may be built with. */
    static final int MAX_STRIPES = 1 << 16;
    /** {@code stripes} value once sealed before any inflation: nobody may inflate behind a switch. */
    private static final long[] SEALED_NO_STRIPES = new long[0];
    /** Returned by switchToAtomic(): read-only, so one instance serves every ref. */
    private static final CompletionStage<Void> COMPLETED =
            CompletableFuture.<Void>completedFuture(null).minimalCompletionStage();

    /** Killed in this life: tryGetLive fails. Cleared by resurrect/reinit. */
    private static final int DEAD = 1;
    /** Atomic mode: all slots are sealed and {@link #count} is exact. */
    private static final int ATOMIC = 1 << 1;
    /** Sticky: stay atomic until switchToPercpu(). */
    private static final int FORCE_ATOMIC = 1 << 2;
    /**
     * The count reached zero in this life and release has been dispatched. Until the release
     * callback has finished (the released stage is done) the ref is <i>releasing</i>.
     */
    private static final int RELEASED = 1 << 3;
    /** A mode switch is moving the bias and the slot values: approximateCount() must not read now. */
    private static final int SWITCHING = 1 << 4;
    /** One step of the switch sequence number kept in the bits above the flags (seqlock). */
    private static final int SWITCH_SEQ = 1 << 5;
    /** The bits of {@link #baseOwner} that hold the owner's id (the low 24 bits of it; 0: none). */
    private static final int OWNER_BITS = (1 << 24) - 1;
    /** Constant bit of {@link #baseOwner}: log2 of the stripe cap, in the 5 bits from here. */
    private static final int CAP_SHIFT = 24;
    /** Constant bit of {@link #baseOwner}: resurrect()/reinit() are permitted (allowReinit(), initAtomic() or initDead()). */
    private static final int ALLOW_REINIT = 1 << 29;
    /** How often approximateCount() tries to read between switches before it takes the lock. */
    private static final int OPTIMISTIC_READS = 64;

    private static final AtomicLong UNNAMED = new AtomicLong();
    private static final System.Logger LOGGER = System.getLogger(PercpuRef.class.getName());
    private static final Consumer<PercpuRefException> LOGGING_REPORTER =
            e -> LOGGER.log(System.Logger.Level.ERROR, e.getMessage(), e); // cause and suppressed ride along
    private static volatile Consumer<? super PercpuRefException> defaultErrorReporter = LOGGING_REPORTER;

    /**
     * The calling thread's id: {@code Thread.threadId()} (final, Java 19+) where it exists, else
     * {@code Thread.getId()} (deprecated since 19 and overridable). A constant handle, which the JIT
     * inlines into a plain call; a multi-release class would need a Java 19 compiler in the build.
     */
    private static final MethodHandle THREAD_ID = threadIdHandle();

    private static final VarHandle COUNT;
    private static final VarHandle BASE;
    private static final VarHandle STRIPES;
    private static final VarHandle BASE_OWNER;
    private static final VarHandle CONTROL;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            COUNT = lookup.findVarHandle(PercpuRef.class, "count", long.class);
            BASE = lookup.findVarHandle(PercpuRef.class, "base", long.class);
            STRIPES = lookup.findVarHandle(PercpuRef.class, "stripes", long[].class);
            BASE_OWNER = lookup.findVarHandle(PercpuRef.class, "baseOwner", int.class);
            CONTROL = lookup.findVarHandle(PercpuRef.class, "control", Control.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /*
     * Cold padding ahead of the fields that every get/put touches (count, base, baseOwner, state,
     * stripes). The JVM lays out a class's fields as longs, then ints, then references, each group
     * in declaration order, and puts the first int into the 4 bytes after the header: so a ref is
     * 96 bytes, its touched fields at offsets 48 to 76, and two refs allocated one after the other
     * (a pool's refs built in a loop, or packed together by a copying collector) keep them 68 bytes
     * apart, never on one cache line: without it, threads each counting on a ref of their own ran
     * 3.5 times slower when their refs lay side by side (NeighbourRefsBenchmark). Checked by
     * PercpuRefFootprintTest.
     */
    private int pad0;
    private long pad1;
    private long pad2;
    private long pad3;
    private long pad4;

    /** The atomic part of the count; BIAS-ed in per-CPU mode. Changed only by atomic RMW. */
    private volatile long count;
    /** The per-CPU slot used before inflation; SEALED in atomic mode. */
    private volatile long base;
    /**
     * In {@link #OWNER_BITS}, the low 24 bits of the id of the thread that adds to {@link #base} by
     * getAndAdd (0: none yet), set once, by CAS, by the first thread that counts on base; above them
     * two constants set at construction, log2 of the stripe cap and {@link #ALLOW_REINIT}. Read
     * plainly: only the owner can read its own id here. Two threads whose ids are equal in their low
     * 24 bits both add by getAndAdd, which counts the same (only the contention signal that
     * inflates is lost between them).
     */
    private int baseOwner;
    /**
     * DEAD | ATOMIC | FORCE_ATOMIC | RELEASED | SWITCHING, and the switch sequence; written only
     * under {@link #control}.
     */
    private volatile int state;
    /** null (not inflated), SEALED_NO_STRIPES (sealed before inflation), or the padded stripes. */
    private volatile long[] stripes;
    /** Diagnostics name; appears in every exception and report. */
    private final String name;
    /** Runs once per life when the count reaches zero. */
    private final Consumer<? super PercpuRef> onRelease;
    /** The confirm callback, callback executor and error reporter; null when none is set. */
    private final Hooks hooks;
    /**
     * Serializes this ref's control operations and holds the release state of the current life;
     * made by the first control operation (most refs are never killed, switched or rebuilt), then
     * kept. Never held while user code runs.
     */
    private volatile Control control;

    private PercpuRef(Builder b) {
        this.name = b.name != null ? b.name : "percpu-ref-" + UNNAMED.incrementAndGet();
        this.onRelease = b.onRelease;
        this.hooks = b.onConfirmKill != null || b.callbackExecutor != null || b.errorReporter != null
                ? new Hooks(b.onConfirmKill, b.callbackExecutor, b.errorReporter) : null;
        int cap = b.stripes != 0 ? b.stripes : defaultStripes();
        this.baseOwner = (b.allowReinit || b.initAtomic || b.initDead ? ALLOW_REINIT : 0)
                | Integer.numberOfTrailingZeros(cap) << CAP_SHIFT;
        if (b.initDead) {
            this.count = 0;
            this.base = SEALED;
            this.stripes = SEALED_NO_STRIPES;
            this.state = DEAD | RELEASED | ATOMIC | (b.initAtomic ? FORCE_ATOMIC : 0);
            Control c = new Control();
            c.releasedStage = CompletableFuture.completedFuture(null);
            this.control = c;
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

    /** This ref's control lock and release state, made on first use. */
    private Control control() {
        Control c = control;
        return c != null ? c : makeControl();
    }

    /** Takes this ref's control lock (made on first use) and returns it, to be unlocked by the caller. */
    private Control lockControl() {
        Control c = control();
        c.lock();
        return c;
    }

    private Control makeControl() {
        Control fresh = new Control();
        Control witness = (Control) CONTROL.compareAndExchange(this, (Control) null, fresh);
        return witness != null ? witness : fresh;
    }

    /**
     * The control lock, with the release state of the current life: written under the lock, read
     * without it where noted. Separate from the ref so that a ref that is only counted carries neither.
     */
    @SuppressWarnings("serial") // never serialized: private to the ref
    private static final class Control extends ReentrantLock {
        /** Completes after the release callback of the current life; created lazily. Written under the lock. */
        volatile CompletableFuture<Void> releasedStage;
        /** The thread running the release callback right now, or null: it must not wait for itself. */
        volatile Thread releaser;
        /** The release task of the releasing life (runs at most once), so that a waiter can run it itself. */
        volatile Runnable pendingRelease;
    }

    /** The builder's rarely set callbacks, kept out of the ref when none is set. */
    private static final class Hooks {
        /** Runs once per kill, before the kill stage completes; may be null. */
        final Consumer<? super PercpuRef> onConfirmKill;
        /** Where callbacks run; null means inline in the triggering thread. */
        final Executor callbackExecutor;
        /** Per-ref error reporter; null means the process-wide default. */
        final Consumer<? super PercpuRefException> errorReporter;

        Hooks(Consumer<? super PercpuRef> onConfirmKill, Executor callbackExecutor,
                Consumer<? super PercpuRefException> errorReporter) {
            this.onConfirmKill = onConfirmKill;
            this.callbackExecutor = callbackExecutor;
            this.errorReporter = errorReporter;
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
     * reference). In per-CPU mode this is one atomic add on the calling thread's stripe.
     *
     * @throws IllegalStateException    if the ref is released (its count is zero)
     * @throws IllegalArgumentException in atomic mode, if the count is already {@link #MAX_COUNT}
     */
    public void get() {
        if (!addToSlot(1)) {
            getAtomic(1);
        }
    }

    /**
     * Takes {@code n} references at once; see {@link #get()}.
     *
     * @throws IllegalArgumentException if {@code n <= 0} or {@code n > }{@link #MAX_COUNT}, or in
     *                                  atomic mode if the count would exceed {@link #MAX_COUNT}
     * @throws IllegalStateException    if the ref is released
     */
    public void get(long n) {
        requireCount(n);
        if (!addToSlot(n)) {
            getAtomic(n);
        }
    }

    /**
     * Takes a reference unless the count is zero (the ref has been released). Succeeds on a dying
     * ref that still has holders, like {@code percpu_ref_tryget}.
     *
     * @return whether a reference was taken; if so, the caller must {@link #put()} it
     * @throws IllegalArgumentException in atomic mode, if the count is already {@link #MAX_COUNT}
     */
    public boolean tryGet() {
        return addToSlot(1) || tryGetAtomic(1);
    }

    /**
     * Takes {@code n} references unless the count is zero; see {@link #tryGet()}.
     *
     * @throws IllegalArgumentException if {@code n <= 0} or {@code n > }{@link #MAX_COUNT}, or in
     *                                  atomic mode if the count would exceed {@link #MAX_COUNT}
     */
    public boolean tryGet(long n) {
        requireCount(n);
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
     * Drops a reference. In per-CPU mode this is one atomic add on the calling thread's stripe; in
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
     * @throws IllegalArgumentException if {@code n <= 0} or {@code n > }{@link #MAX_COUNT}
     * @throws IllegalStateException    in atomic mode, if the count would go below zero
     */
    public void put(long n) {
        requireCount(n);
        if (!addToSlot(-n)) {
            putAtomic(n);
        }
    }

    /**
     * Adds {@code delta} references (negative for puts) to the calling thread's slot unless it is
     * sealed. A slot holds twice its count of gets minus puts, modulo 2^64, so its low bit stays
     * clear however far it drifts, and only a seal sets it.
     *
     * @return false if the slot is sealed: the caller must use the atomic counter
     */
    private boolean addToSlot(long delta) {
        long[] s = stripes;
        long me = currentThreadId();
        if (s == null) {
            if (((baseOwner ^ (int) me) & OWNER_BITS) == 0) {
                // base's owner adds with one getAndAdd, like a stripe (an odd old value: sealed)
                return (getAndAddBase(delta << UNIT_SHIFT) & SEAL) == 0;
            }
            return addToSharedBase(me, delta << UNIT_SHIFT);
        }
        return addToStripe(s, me, delta << UNIT_SHIFT);
    }

    /**
     * Adds to {@code base} for thread {@code me}, which does not own it: the first thread to get
     * here claims it (and adds by getAndAdd from then on); any other adds by load + CAS, and its
     * lost CAS is the contention signal that inflates (the owner's getAndAdd never fails, so it
     * cannot give one).
     */
    private boolean addToSharedBase(long me, long units) {
        int owner = baseOwner;
        if ((owner & OWNER_BITS) == 0 && BASE_OWNER.compareAndSet(this, owner, owner | (int) me & OWNER_BITS)) {
            return (getAndAddBase(units) & SEAL) == 0;
        }
        long v = base;
        if ((v & SEAL) != 0) {
            return false;
        }
        if (casBase(v, v + units)) {
            return true;
        }
        if ((base & SEAL) != 0) {
            return false; // lost to the seal, not to another counting thread: do not inflate
        }
        // Lost a race on base to another thread: contention. Inflate.
        return addToStripe(inflate(me), me, units);
    }

    /**
     * Adds {@code units} to thread {@code me}'s stripe of table {@code s} with one {@code getAndAdd}
     * (a single {@code lock xadd}, no retry loop), and checks the old value's low bits: the seal bit
     * clear and the thread's own tag mean a counted add on the thread's own stripe, the common case.
     * Anything else is handled by {@link #afterMismatch}; the add itself, being a multiple of the
     * unit, never changes the low bits.
     *
     * @return false if the slot was sealed by a switch: the caller must use the atomic counter
     */
    private boolean addToStripe(long[] s, long me, long units) {
        if (s.length == 0) {
            return false; // SEALED_NO_STRIPES
        }
        int i = stripeIndex(s, me);
        long old = getAndAddSlot(s, i, units);
        // A put checks the seal only: the get before it (on this thread or another) checks the tag.
        if (units < 0 ? (old & SEAL) == 0 : ((old ^ tag(me)) & LOW_BITS) == 0) {
            return true;
        }
        return afterMismatch(s, i, me, units, old);
    }

    /**
     * After an add to slot {@code i} of table {@code s} whose old value was not the calling thread's
     * own unsealed stripe. Sealed: the add was not counted (garbage in a sealed slot, which nobody
     * reads and the unseal or the table's replacement discards); if a rebuild replaced the table the
     * add is retried in the new one, otherwise a switch sealed it and the caller counts on the atomic
     * counter. Unclaimed: the add counted; the thread claims the stripe with its tag. Another
     * thread's tag: the add counted too (any slot's value counts), but two threads share the stripe,
     * so the table may be rebuilt to place them apart ({@link #placeApart}).
     */
    private boolean afterMismatch(long[] s, int i, long me, long units, long old) {
        if ((old & SEAL) != 0) {
            long[] now = stripes;
            // sealed by a rebuild: count in the table that replaced it; else by a switch
            return now != s && now != null && addToStripe(now, me, units);
        }
        long low = old & LOW_BITS;
        long mine = tag(me);
        if (low == 0 || low == (mine & ~MARK)) {
            claim(s, i, low, mine); // unclaimed, or claimed for this thread by a rebuild
        } else if (low != mine) {
            placeApart(s, me);
        }
        return true;
    }

    /**
     * Replaces the low bits {@code low} of slot {@code i} (0: unclaimed, or this thread's unconfirmed
     * claim) by tag {@code tag}, unless they changed first (sealed, or claimed by another thread).
     */
    private static void claim(long[] s, int i, long low, long tag) {
        for (;;) {
            long v = (long) SLOT.getVolatile(s, i);
            if ((v & LOW_BITS) != low || SLOT.compareAndSet(s, i, v, v - low + tag)) {
                return;
            }
        }
    }

    /** Thread {@code me}'s owner tag: its key and the {@link #MARK} of a confirmed claim, above the seal bit. */
    static long tag(long me) {
        return ((me & KEY_BITS) << 1) | MARK;
    }

    /**
     * The key of the thread whose claim a slot holding {@code v} carries; -1 if it is sealed,
     * unclaimed, or (unless {@code unconfirmed}) claimed by a rebuild for a thread that has not
     * counted there since.
     */
    private static int keyOf(long v, boolean unconfirmed) {
        if ((v & SEAL) != 0 || (v & LOW_BITS) == 0 || !unconfirmed && (v & MARK) == 0) {
            return -1;
        }
        return (int) (v >>> 1) & KEY_BITS;
    }

    /*
     * Stripe table layout: a table of n stripes (a power of two, up to stripeCount()) is a
     * long[16 n]. Stripe k's slot is at index 8 + 16 k: 128 bytes from the next slot (no two stripes
     * share a 64-byte line or an adjacent-line pair), 64 bytes from index 0 and 68 from the array's
     * length (which every add reads for its bounds check), and 56 bytes from the end of the array, so
     * 68 or more from the first field of whatever object follows: no stripe shares a line with the
     * header or a neighbour (an adjacent-line pair is possible there: measured to cost nothing
     * measurable on the AMD EPYC of docs/benchmarks.md, where 128 bytes at both ends made the 2-stripe
     * table 400 bytes instead of 272). Index 0, on the header's
     * line, holds the table's placement multiplier and index 1 its rebuild budget; both are written
     * before the table is published (the budget is also set to "settled" later, racily: it only
     * decides whether to try a rebuild). The number of stripes is read off the length.
     */

    /**
     * Index of thread {@code me}'s slot in table {@code s}: the top bits of its key times the table's
     * multiplier, a multiplier chosen at the table's creation to put the threads it knew on distinct
     * stripes.
     */
    static int stripeIndex(long[] s, long me) {
        return stripeOf((int) me & KEY_BITS, s[MULTIPLIER], stripesOf(s)) * PAD + FIRST_STRIPE;
    }

    /** The stripe a key lands on in a table of {@code n} stripes with multiplier {@code m}. */
    private static int stripeOf(int key, long m, int n) {
        return (int) ((key * m) >>> 40) & (n - 1);
    }

    /** The number of stripes of table {@code s} (not SEALED_NO_STRIPES). */
    private static int stripesOf(long[] s) {
        return s.length >>> 4;
    }

    /**
     * A table of {@code n} stripes with multiplier {@code m} and rebuild budget {@code rebuilds}, its
     * stripes claimed for {@code keys} (the first key on a stripe, if the multiplier does not place
     * them all apart).
     */
    static long[] newTable(int n, long m, long rebuilds, int[] keys) {
        long[] fresh = new long[n * PAD];
        fresh[MULTIPLIER] = m;
        fresh[REBUILDS] = rebuilds;
        fresh[BUILT] = System.nanoTime();
        for (int key : keys) {
            int i = stripeIndex(fresh, key);
            if ((fresh[i] & LOW_BITS) == 0) {
                // known threads keep their claims, unconfirmed: one not confirmed by its thread's
                // get before the next rebuild (a thread that has ended) is dropped then
                fresh[i] = (long) key << 1;
            }
        }
        return fresh;
    }

    /**
     * Thread {@code me} found its stripe of table {@code s} claimed by another thread. Replaces the
     * table with one whose multiplier places every thread with a confirmed claim, and this one, on a
     * stripe of its own: at the same size while the table has rebuilds left and stripes for them
     * all, else doubled until such a multiplier is found or the cap is reached. The search
     * ({@value #PLACEMENT_TRIES} multipliers per size, a fraction of a millisecond once compiled) runs outside the
     * lock; the replacement under it, taken with {@code tryLock} (a counting thread never waits). At
     * the cap, a search that finds nothing is repeated at later collisions, up to
     * {@value #MAX_FAILED_SEARCHES} times; then (or at once with more threads than stripes) the
     * threads are spread as evenly as a multiplier can and the table settles: threads beyond the cap
     * share. A settled table is tried again once it has waited its back-off ({@link #settledGain}),
     * which drops the claims of threads that have ended.
     */
    void placeApart(long[] s, long me) {
        int cap = stripeCount();
        Control lock = control;
        if (cap == 1 || lock != null && lock.isLocked()) {
            return;
        }
        if (s[REBUILDS] < 0 && ((ThreadLocalRandom.current().nextInt() & SETTLED_CHECK_MASK) != 0 || !backOffExpired(s))) {
            // settled (more threads than the cap) and not yet due for a retry: the common case of a
            // thread beyond the cap, which finds another's tag at most of its gets. Return before
            // reading the other stripes (each a line another core writes) or allocating anything;
            // only one such get in 64, at random, even reads the clock
            return;
        }
        int n = stripesOf(s);
        int mine = (int) me & KEY_BITS;
        // a settled table counts unconfirmed claims too: their threads may just not have run lately
        int[] keys = knownKeys(s, mine, s[REBUILDS] < 0 || young(s));
        // the rebuild budget of the next table if this one has settled: the back-off is reset only
        // when the threads can be placed apart, and keeps doubling when only stale claims are dropped
        long settledNext = -1;
        if (s[REBUILDS] < 0) {
            int gain = settledGain(s, keys, n);
            if (gain < 0) {
                return;
            }
            settledNext = gain > 0 ? -1 : Math.max(s[REBUILDS] - 1, -1 - MAX_BACKOFF);
            if (gain == 0) {
                keys = knownKeys(s, mine, false); // drop the stale claims
            }
        }
        int size = n;
        while (size < keys.length && size < cap) {
            size <<= 1;
        }
        if (size == n && s[REBUILDS] == 0) {
            size = Math.min(n << 1, cap);
        }
        long[] fresh;
        for (;;) {
            long best = keys.length <= size ? placement(keys, size) : 0;
            if (best != 0) {
                long rebuilds = s[REBUILDS] < 0 ? settledNext : size > n ? REBUILDS_PER_SIZE : s[REBUILDS] - 1;
                fresh = newTable(size, best, rebuilds, keys);
                break;
            }
            if (size < cap) {
                size <<= 1;
                continue;
            }
            if (keys.length <= size && s[REBUILDS] >= 0 && s[FAILED_SEARCHES]++ < MAX_FAILED_SEARCHES) {
                return; // there may be one: the next get that finds another's tag searches again
            }
            // At the cap and nothing places them apart: spread them as evenly as a multiplier can,
            // and settle. Rebuilt all the same, so that claims of threads that have ended age out.
            fresh = newTable(size, spread(keys, size), settledNext, keys);
            break;
        }
        Control held = control();
        if (!held.tryLock()) {
            return;
        }
        try {
            if (stripes == s && (state & (ATOMIC | SWITCHING)) == 0) {
                replaceTableLocked(s, fresh);
            }
        } finally {
            held.unlock();
        }
    }

    /**
     * What a rebuild of settled table {@code s} (of {@code n} stripes), whose back-off has expired
     * ({@link #placeApart} checks it first: 1 ms, doubled at each retry that does not place the
     * threads apart, up to about a second), may gain: 1 if a multiplier places {@code keys} apart, 0
     * if it holds stale claims only (carried by a rebuild and not confirmed since: threads that have
     * ended, or have not run), -1 if nothing. When nothing, the claims are unconfirmed in place, so that those of
     * threads that have ended are stale at the next retry, and the back-off doubles: threads beyond
     * the cap cost a rebuild at most every second.
     */
    static int settledGain(long[] s, int[] keys, int n) {
        if (keys.length <= n && placement(keys, n) != 0) {
            return 1;
        }
        for (int i = FIRST_STRIPE; i < s.length; i += PAD) {
            long v = (long) SLOT.getVolatile(s, i);
            if ((v & SEAL) == 0 && (v & LOW_BITS) != 0 && (v & MARK) == 0) {
                return 0;
            }
        }
        for (int i = FIRST_STRIPE; i < s.length; i += PAD) {
            for (;;) {
                long v = (long) SLOT.getVolatile(s, i);
                if ((v & (SEAL | MARK)) != MARK || SLOT.compareAndSet(s, i, v, v & ~MARK)) {
                    break;
                }
            }
        }
        s[BUILT] = System.nanoTime();
        s[REBUILDS] = Math.max(s[REBUILDS] - 1, -1 - MAX_BACKOFF);
        return -1;
    }

    /** Whether settled table {@code s} has waited its back-off since it was built or last retried. */
    static boolean backOffExpired(long[] s) {
        return System.nanoTime() - s[BUILT] >= SETTLED_RETRY_NANOS << Math.min(-s[REBUILDS] - 1, MAX_BACKOFF);
    }

    /**
     * A multiplier that puts {@code keys} on distinct stripes of a table of {@code n}: {@link #KEY_MOD}
     * if it does, else one of {@value #PLACEMENT_TRIES} random odd ones (32 keys on 64 stripes: 1 in
     * 12,000 does), or 0 if none was found.
     */
    static long placement(int[] keys, int n) {
        long[] used = new long[(n + 63) >>> 6];
        if (distinct(keys, KEY_MOD, n, used)) {
            return KEY_MOD;
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int attempt = 0; attempt < PLACEMENT_TRIES; attempt++) {
            long m = random.nextLong() | 1;
            if (distinct(keys, m, n, used)) {
                return m;
            }
        }
        return 0;
    }

    /**
     * The multiplier, of {@value #SPREAD_TRIES} random odd ones, that leaves the fewest pairs of
     * {@code keys} on one stripe of a table of {@code n} (more keys than stripes: as even as it gets).
     */
    static long spread(int[] keys, int n) {
        int[] load = new int[n];
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long best = KEY_MOD;
        long fewest = sharingPairs(keys, best, n, load);
        for (int attempt = 0; attempt < SPREAD_TRIES && fewest > minimumPairs(keys.length, n); attempt++) {
            long m = random.nextLong() | 1;
            long pairs = sharingPairs(keys, m, n, load);
            if (pairs < fewest) {
                fewest = pairs;
                best = m;
            }
        }
        return best;
    }

    /** Pairs of {@code keys} on one stripe with multiplier {@code m} in a table of {@code n}; {@code load} is scratch. */
    static long sharingPairs(int[] keys, long m, int n, int[] load) {
        Arrays.fill(load, 0);
        long pairs = 0;
        for (int key : keys) {
            pairs += load[stripeOf(key, m, n)]++;
        }
        return pairs;
    }

    /** The fewest pairs {@code k} keys can make on {@code n} stripes: all loads within one of each other. */
    static long minimumPairs(int k, int n) {
        long low = k / n;
        long high = low + 1;
        long withHigh = k % n;
        return withHigh * high * (high - 1) / 2 + (n - withHigh) * low * (low - 1) / 2;
    }

    /** Whether multiplier {@code m} puts {@code keys} on distinct stripes of {@code n}; {@code used} is scratch. */
    private static boolean distinct(int[] keys, long m, int n, long[] used) {
        Arrays.fill(used, 0L);
        for (int key : keys) {
            int stripe = stripeOf(key, m, n);
            long bit = 1L << stripe;
            if ((used[stripe >>> 6] & bit) != 0) {
                return false;
            }
            used[stripe >>> 6] |= bit;
        }
        return true;
    }

    /**
     * Whether table {@code s} is younger than {@value #CLAIM_NANOS} ns: its unconfirmed claims then
     * count as known threads; later only confirmed ones do (a thread that has not counted for that
     * long may have ended).
     */
    static boolean young(long[] s) {
        return System.nanoTime() - s[BUILT] < CLAIM_NANOS;
    }

    /**
     * The keys of the threads that have claimed a stripe of {@code s}, and {@code mine} unless it is
     * negative, without repeats; claims a rebuild carried into {@code s} and no get has confirmed
     * since only if {@code unconfirmed}.
     */
    static int[] knownKeys(long[] s, int mine, boolean unconfirmed) {
        int[] keys = new int[stripesOf(s) + 1];
        int k = 0;
        if (mine >= 0) {
            keys[k++] = mine;
        }
        for (int i = FIRST_STRIPE; i < s.length; i += PAD) {
            int key = keyOf((long) SLOT.getVolatile(s, i), unconfirmed);
            if (key >= 0 && (key != mine) && indexOf(keys, k, key) < 0) {
                keys[k++] = key;
            }
        }
        return Arrays.copyOf(keys, k);
    }

    private static int indexOf(int[] keys, int length, int key) {
        for (int i = 0; i < length; i++) {
            if (keys[i] == key) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Replaces table {@code s} by {@code fresh}, per-CPU mode, under the control lock: seals every
     * stripe of {@code s} with {@code getAndSet}, which captures its exact value, puts the sum (and the
     * atomic part, so that it never drifts far from the bias) into
     * the first stripe of {@code fresh} and publishes it, inside a switch-sequence step so that
     * {@link #approximateCount()} never reads a half-moved table. The old table stays sealed: a thread
     * still adding to it gets an odd old value, finds the table replaced and counts in the new one;
     * a thread that reads the seal before the new table is published counts on the atomic counter,
     * whose bias keeps it from zero. Claims start afresh in the new table, which also frees the
     * stripes of threads that have ended.
     */
    private void replaceTableLocked(long[] s, long[] fresh) {
        beginSwitchLocked();
        long units = 0;
        for (int i = FIRST_STRIPE; i < s.length; i += PAD) {
            units += getAndSetSlot(s, i, SEALED) & ~LOW_BITS;
        }
        // The atomic part moves into the new table too, so that no rebuild leaves it drifting (adds
        // that found a stripe sealed counted there): count keeps just its bias, never near zero.
        long atomic = count - BIAS;
        COUNT.getAndAdd(this, -atomic);
        fresh[FIRST_STRIPE] += units + (atomic << UNIT_SHIFT); // keeps the first stripe's claim: no low bits
        stripes = fresh; // release: the new table, its sum included, is published
        endSwitchLocked(0, 0);
    }

    /** Replaces the current table by one twice its size, up to the cap, if the ref is inflated and per-CPU (for tests). */
    void growForTest() {
        Control held = lockControl();
        try {
            long[] s = stripes;
            if (s != null && s.length != 0 && stripesOf(s) < stripeCount() && (state & ATOMIC) == 0) {
                replaceTableLocked(s, newTable(stripesOf(s) << 1, s[MULTIPLIER], REBUILDS_PER_SIZE, knownKeys(s, -1, young(s))));
            }
        } finally {
            held.unlock();
        }
    }

    /** The current stripe table itself: null before inflation (for tests of the placement heuristics). */
    long[] tableForTest() {
        return stripes;
    }

    /**
     * Replaces the current table by {@code fresh} as a rebuild does, moving the count into it, if
     * the ref is inflated and per-CPU (for tests of the placement heuristics).
     */
    void replaceTableForTest(long[] fresh) {
        Control held = lockControl();
        try {
            long[] s = stripes;
            if (s != null && s.length != 0 && (state & ATOMIC) == 0) {
                replaceTableLocked(s, fresh);
            }
        } finally {
            held.unlock();
        }
    }

    /** Number of stripes of the current table, 0 if the ref has not inflated (for tests and metrics). */
    int tableStripes() {
        long[] s = stripes;
        return s == null || s.length == 0 ? 0 : stripesOf(s);
    }

    private static MethodHandle threadIdHandle() {
        MethodType returnsLong = MethodType.methodType(long.class);
        MethodHandles.Lookup lookup = MethodHandles.publicLookup();
        try {
            return lookup.findVirtual(Thread.class, "threadId", returnsLong);
        } catch (NoSuchMethodException beforeJava19) {
            try {
                return lookup.findVirtual(Thread.class, "getId", returnsLong);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        } catch (IllegalAccessException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** {@link #THREAD_ID} of the current thread. */
    static long currentThreadId() {
        try {
            return (long) THREAD_ID.invokeExact(Thread.currentThread());
        } catch (RuntimeException | Error e) {
            throw e; // a StackOverflowError here, or whatever an overridden getId() (17, 18) throws
        } catch (Throwable checked) { // a method without a throws clause cannot throw one
            throw new AssertionError(checked);
        }
    }

    /**
     * Index, in the current table, of the calling thread's stripe (for tests); -1 if the ref has not
     * inflated or was sealed before inflating.
     */
    int stripeOffset() {
        long[] s = stripes;
        return s == null || s.length == 0 ? -1 : stripeIndex(s, currentThreadId());
    }

    /** Whether a stripe array has been published (for tests: inflation must follow real contention). */
    boolean inflated() {
        long[] s = stripes;
        return s != null && s.length > 0;
    }

    /** {@link #inflate(long)} for the calling thread (for tests). */
    long[] inflate() {
        return inflate(currentThreadId());
    }

    /**
     * Publishes the first stripe table ({@value #FIRST_TABLE} stripes, or the cap if lower) unless
     * another thread did, or a switch sealed it first. Its multiplier puts thread {@code me} and the
     * owner of {@code base}, the two threads whose race inflated it, on different stripes.
     */
    long[] inflate(long me) {
        long[] s = stripes;
        if (s != null) {
            return s;
        }
        int n = Math.min(FIRST_TABLE, stripeCount());
        int mine = (int) me & KEY_BITS;
        int owner = baseOwner & KEY_BITS;
        int[] keys = (baseOwner & OWNER_BITS) == 0 || mine == owner ? new int[] {mine} : new int[] {mine, owner};
        long m = keys.length == 1 || n == 1 ? 0 : placement(keys, n);
        long[] fresh = newTable(n, m != 0 ? m : KEY_MOD, REBUILDS_PER_SIZE, keys);
        // release: the table is published before any thread adds to it
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
            int s = state;
            long c = count;
            if (c == 0) {
                return false;
            }
            if (tornAboveMaximum(s, c, n)) {
                continue;
            }
            if (casCount(c, c + n)) {
                return true;
            }
        }
    }

    /**
     * The {@link #MAX_COUNT} check of the atomic slow paths, for a count {@code c} read after the
     * state {@code s}. Only an exact count is checked: atomic mode, not switching, and the state
     * unchanged around the read of {@code c} (a biased count says nothing about the total).
     *
     * @return true if the count was above the maximum but the state moved around its read: the
     *         caller reads both again
     * @throws IllegalArgumentException if taking {@code n} more would take an exact count above it
     */
    private boolean tornAboveMaximum(int s, long c, long n) {
        if ((s & (ATOMIC | SWITCHING)) != ATOMIC || c <= MAX_COUNT - n) {
            return false;
        }
        if (state != s) {
            return true;
        }
        throw new IllegalArgumentException("PercpuRef '" + name + "' [" + describeState() + "]: taking " + n
                + " more references would take the count " + c + " above the maximum " + MAX_COUNT);
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
            if (tornAboveMaximum(s, c, 1)) {
                continue;
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
        Control held = lockControl();
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
            stage = zeroReachedLocked();
        } finally {
            held.unlock();
        }
        dispatchRelease(stage);
    }

    /**
     * The zero transition of this life (a put, or a switch that found the count at zero): marks the
     * ref RELEASED and returns the life's released stage, created if nobody has asked for it yet.
     * The caller dispatches the release after unlocking.
     */
    private CompletableFuture<Void> zeroReachedLocked() {
        state |= RELEASED;
        Control c = control();
        CompletableFuture<Void> stage = c.releasedStage;
        if (stage == null) {
            stage = new CompletableFuture<>();
            c.releasedStage = stage;
        }
        return stage;
    }

    /** Dispatches the release of the life whose stage is {@code stage}; call after unlocking. */
    private void dispatchRelease(CompletableFuture<Void> stage) {
        Once once = new Once(() -> runRelease(stage));
        dispatch(once, "release");
        if (!once.claimed.get()) {
            // queued, not started: a reinit()/resurrect() that would wait for it may run it instead
            control().pendingRelease = once;
        }
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
        long folded;
        Control held = lockControl();
        try {
            int s = state;
            if ((s & RELEASED) != 0) {
                throw misuse("kill() on a released ref");
            }
            if ((s & DEAD) != 0) {
                throw misuse("kill() called twice in one life");
            }
            // release: from here every tryGetLive() that reads state fails
            state = s | DEAD;
            folded = (s & ATOMIC) == 0 ? switchToAtomicLocked(false) : 1;
        } finally {
            held.unlock();
        }
        reportFold(folded);
        // The initial reference is still held, so release cannot run before confirm.
        dispatch(() -> confirmAndDropInitial(confirm, confirmed), "confirm");
        return confirmed.minimalCompletionStage();
    }

    /**
     * Runs the confirm callbacks, completes the kill stage, then drops the initial reference. Each
     * step runs in a {@code finally} of the one before: a callback that throws, even an
     * {@link Error}, can neither skip the other callback, leave the stage incomplete, nor keep
     * the initial reference (which would block release for ever).
     */
    private void confirmAndDropInitial(Consumer<? super PercpuRef> confirm, CompletableFuture<Void> confirmed) {
        try {
            try {
                runCallback(hooks != null ? hooks.onConfirmKill : null, "confirm");
            } finally {
                try {
                    runCallback(confirm, "confirm");
                } finally {
                    confirmed.complete(null);
                }
            }
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
     *
     * <p>As in the kernel, the switch itself holds no reference: if every reference, the initial
     * one included, was put in per-CPU mode, the count found is zero, the ref is released (the
     * release callback runs, after this method unlocks) and {@link #isZero()} is true. A negative
     * count is an over-put: reported, and the count is reset to 1.
     */
    public void switchToAtomicSync() {
        long folded;
        CompletableFuture<Void> release = null;
        Control held = lockControl();
        try {
            int s = state;
            state = s | FORCE_ATOMIC;
            // Unlike kill(), a switch holds no reference: a count of exactly 0 (every reference,
            // the initial one included, put in per-CPU mode) is the zero transition, as in the
            // kernel (whose switch puts its own reference after the fold), not an over-put.
            folded = (s & ATOMIC) == 0 ? switchToAtomicLocked(true) : 1;
            if (folded == 0) {
                release = zeroReachedLocked();
            }
        } finally {
            held.unlock();
        }
        if (folded != 0) {
            reportFold(folded);
        } else {
            dispatchRelease(release);
        }
    }

    /**
     * Clears the force-atomic flag. A live ref switches to per-CPU mode now; a dying or released
     * ref stays atomic and switches at the next {@link #resurrect()} / {@link #reinit()}.
     * Equivalent to {@code percpu_ref_switch_to_percpu}.
     */
    public void switchToPercpu() {
        Control held = lockControl();
        try {
            int s = state & ~FORCE_ATOMIC;
            state = s;
            if ((s & (ATOMIC | DEAD | RELEASED)) == ATOMIC) {
                switchToPercpuLocked();
            }
        } finally {
            held.unlock();
        }
    }

    /**
     * Brings a dying ref back to life: re-takes the initial reference, clears the dying flag and
     * switches back to per-CPU mode unless force-atomic is set. The count need not be zero: holders
     * keep their references. If the ref was already released (count zero), a new life starts, with
     * a fresh {@link #released()} stage. Equivalent to {@code percpu_ref_resurrect}.
     *
     * <p>If the count has reached zero but the release callback of this life has not returned (the
     * ref is <i>releasing</i>), this method waits for the callback to finish (or runs it, if the
     * executor has not started it; see {@link #reinit()}), so that the life's {@link #released()}
     * stage completes before the next life starts.
     *
     * @throws IllegalStateException if the ref was built without {@code allowReinit}, is not dying,
     *                               or the caller is the release callback of the life it would end
     */
    public void resurrect() {
        startNextLife("resurrect()", DEAD | RELEASED, "resurrect() requires a dying ref");
    }

    /**
     * Brings a released ref (count zero) back to life as freshly built: holding the initial
     * reference, not dying, in per-CPU mode unless force-atomic is set, with a fresh
     * {@link #released()} stage. Equivalent to {@code percpu_ref_reinit}.
     *
     * <p>If the count has reached zero but the release callback has not returned (the ref is
     * <i>releasing</i>), this method waits for the callback to finish, or, if the callback executor
     * has not started it yet, runs it in the calling thread: the kernel idiom "wait until
     * {@link #isZero()}, then reinit" is safe, also on the executor's own thread or behind an
     * executor that dropped the task. It does not wait for the actions chained on the previous
     * life's {@link #released()} stages: those stages complete, and their actions run, in the
     * releasing thread right after the callback, and may still be completing when the next life
     * starts (an action may itself start it: {@code released().thenRun(ref::reinit)}).
     *
     * @throws IllegalStateException if the ref was built without {@code allowReinit}, its count is
     *                               not zero, or the caller is the release callback of the life it
     *                               would end (waiting for itself would never return)
     */
    public void reinit() {
        startNextLife("reinit()", RELEASED, "reinit() requires a released ref (count zero)");
    }

    /**
     * resurrect()/reinit(): under the lock, checks that the ref may start its next life (one of
     * {@code requiredFlags} is set), then starts it; if the ref is releasing, waits without the lock
     * for the release callback (or runs it) and checks again.
     */
    private void startNextLife(String op, int requiredFlags, String wrongState) {
        for (;;) {
            CompletableFuture<Void> releasing;
            Control held = lockControl();
            try {
                requireReinitAllowed(op);
                if ((state & requiredFlags) == 0) {
                    throw misuse(wrongState);
                }
                releasing = releasingStageLocked();
                if (releasing == null) {
                    startLifeLocked();
                    return;
                }
            } finally {
                held.unlock();
            }
            awaitReleaseCallback(releasing, op);
        }
    }

    /**
     * The released stage of this life if the ref is releasing (zero reached, callback not returned
     * and stage not complete), else null. Only the stage itself: the views released() handed out,
     * and the actions chained on them, complete in its completion, in the releasing thread, and are
     * not waited for (an action may start the next life, or another ref's, which would wait for it).
     */
    private CompletableFuture<Void> releasingStageLocked() {
        if ((state & RELEASED) == 0) {
            return null;
        }
        CompletableFuture<Void> stage = control().releasedStage;
        return stage.isDone() ? null : stage;
    }

    /** Waits, without the lock, until the release callback of this life has finished. */
    private void awaitReleaseCallback(CompletableFuture<Void> releasing, String op) {
        Control c = control();
        if (c.releaser == Thread.currentThread()) {
            throw misuse(op + " called from the release callback of the life it would end; start the next"
                    + " life once the callback has returned, e.g. from released().thenRun(...)");
        }
        boolean interrupted = false;
        try {
            for (;;) {
                Runnable task = c.pendingRelease;
                if (task != null) {
                    // Runs the release here unless the executor has started it (at most once): a
                    // waiter on the executor's own thread, or behind an executor that dropped the
                    // task, would otherwise wait for ever.
                    task.run();
                }
                try {
                    // completes normally whatever the callback did (runRelease); the timeout only
                    // re-checks pendingRelease, published just after the task was dispatched
                    releasing.get(10, TimeUnit.MILLISECONDS);
                    return;
                } catch (TimeoutException e) {
                    // not yet: look for the queued task again
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    throw new IllegalStateException("released stage failed", e); // never: completed with null
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void requireReinitAllowed(String op) {
        if ((baseOwner & ALLOW_REINIT) == 0) {
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
            Control c = control();
            c.releasedStage = null;
            c.pendingRelease = null;
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
     * <p>Each slot holds twice its net count modulo 2^64 (see {@link #addToSlot}); the sum of the
     * sealed values, shifted right by one, is the net count of all slots modulo 2^63, which is exact
     * while the true count and the atomic part both stay below 2^62 in magnitude (MAX_COUNT is far
     * below that).
     *
     * @param zeroReleases whether a count of exactly 0 is legitimate (a plain switch, which holds no
     *                     reference) rather than an over-put (kill, which holds the initial one)
     * @return the count found, before any correction: below 1 (below 0 if {@code zeroReleases}) is
     *         an over-put (the count is reset to 1), above {@link #MAX_COUNT} is too many gets. The
     *         caller reports either after unlocking, so that no user code runs under the lock.
     */
    private long switchToAtomicLocked(boolean zeroReleases) {
        beginSwitchLocked();
        long units = getAndSetBase(SEALED) & ~LOW_BITS;
        long[] s = stripes;
        if (s == null) {
            // Seal the stripes field too, so that nobody inflates behind the switch.
            s = (long[]) STRIPES.compareAndExchange(this, (long[]) null, SEALED_NO_STRIPES);
        }
        if (s != null) {
            for (int i = FIRST_STRIPE; i < s.length; i += PAD) {
                units += getAndSetSlot(s, i, SEALED) & ~LOW_BITS;
            }
        }
        long sum = slotSum(units, count - BIAS);
        long c = (long) COUNT.getAndAdd(this, sum - BIAS) + sum - BIAS;
        if (c < 1 && !(zeroReleases && c == 0)) {
            // kill() still holds the initial reference (dropped after confirm), so its true count
            // is >= 1; a plain switch holds none, and 0 there is the zero transition (caller releases).
            COUNT.getAndAdd(this, 1 - c);
        }
        endSwitchLocked(ATOMIC, 0);
        return c;
    }

    /** Reports what {@link #switchToAtomicLocked(boolean)} found wrong with the folded count, if anything. */
    private void reportFold(long folded) {
        if (folded < 1) {
            report("over-put detected when switching to atomic mode: the count summed to " + folded
                    + " while the initial reference was still held (" + (1 - folded)
                    + " more put than get in per-CPU mode); the count was reset to 1", null);
        } else if (folded > MAX_COUNT) {
            report("the count reached " + folded + ", above the maximum " + MAX_COUNT
                    + " (gets made in per-CPU mode); gets fail until it falls below", null);
        }
    }

    /** Adds the bias back, then unseals the slots; the reverse order could let count hit zero. */
    private void switchToPercpuLocked() {
        beginSwitchLocked();
        // The bias must be in count before any slot is usable: a put that found its slot sealed
        // and went to count could otherwise take it to zero while gets sit in unsealed slots.
        COUNT.getAndAdd(this, BIAS);
        long[] s = stripes;
        if (s == SEALED_NO_STRIPES) {
            stripes = null;
        } else if (s != null) {
            for (int i = FIRST_STRIPE; i < s.length; i += PAD) {
                setSlotVolatile(s, i, 0L);
            }
        }
        base = 0L;
        endSwitchLocked(0, ATOMIC);
    }

    /** Marks a switch under way and steps the switch sequence, before the bias or any slot moves. */
    private void beginSwitchLocked() {
        state = (state + SWITCH_SEQ) | SWITCHING;
    }

    /** Ends a switch: sets and clears the given flags together with SWITCHING, after every move. */
    private void endSwitchLocked(int set, int clear) {
        state = (state & ~(SWITCHING | clear)) | set;
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
        CompletableFuture<Void> stage;
        Control c = lockControl();
        try {
            stage = c.releasedStage;
            if (stage == null) {
                stage = new CompletableFuture<>();
                c.releasedStage = stage;
            }
        } finally {
            c.unlock();
        }
        // outside the lock: on a stage that is completing, making a view may run other holders'
        // actions in this thread (CompletableFuture helps), and user code never runs under the lock
        return stage.minimalCompletionStage();
    }

    /** True iff the ref is in atomic mode and its count is zero. Always false in per-CPU mode. */
    public boolean isZero() {
        return (state & ATOMIC) != 0 && count == 0;
    }

    /**
     * True once the ref is dying or released in this life, until resurrect/reinit: it has been
     * killed, or (a force-atomic ref) its last put took the count to zero without a kill.
     */
    public boolean isDying() {
        int s = state;
        if ((s & RELEASED) == 0) {
            return (s & DEAD) != 0;
        }
        // RELEASED with a non-zero count: a resurrect/reinit is past its linearization point (the
        // count leaving zero) but has not cleared the flags yet.
        return count == 0;
    }

    /** The current counting mode. */
    public Mode mode() {
        return (state & ATOMIC) != 0 ? Mode.ATOMIC : Mode.PERCPU;
    }

    /**
     * The count as the sum of the stripes and the atomic part, read one after another: NOT an atomic
     * snapshot. In per-CPU mode, gets and puts in flight (or a reference taken on one thread and
     * dropped on another) may make it off by the references moving during the read; it is never
     * negative. It never reads in the middle of a mode switch (it retries, then waits for the
     * switch on the ref's lock), so it never shows the internal bias. Exact in atomic mode. For
     * metrics and diagnostics only.
     */
    public long approximateCount() {
        return approximateCount(OPTIMISTIC_READS);
    }

    /** {@link #approximateCount()} with at most {@code optimisticReads} tries before the lock. */
    long approximateCount(int optimisticReads) {
        for (int attempt = 0; attempt < optimisticReads; attempt++) {
            int s = state;
            if ((s & SWITCHING) == 0) {
                long c = readCount(s);
                // acquire: unchanged state, sequence included, means no switch overlapped the reads
                if (state == s) {
                    return c;
                }
            }
            Thread.onSpinWait();
        }
        Control held = lockControl();
        try {
            return readCount(state);
        } finally {
            held.unlock();
        }
    }

    /** The atomic part of the count as it is (BIAS-ed in per-CPU mode), for tests of where counts go. */
    long atomicPart() {
        return count;
    }

    /** The number of stripes the ref inflates to. */
    int stripeCount() {
        return 1 << (baseOwner >>> CAP_SHIFT & 31);
    }

    /** The count as seen in mode {@code s}, which must not be switching. */
    private long readCount(int s) {
        if ((s & ATOMIC) != 0) {
            return count;
        }
        long units = 0;
        long v = base;
        if ((v & SEAL) == 0) {
            units += v & ~LOW_BITS;
        }
        long[] st = stripes;
        if (st != null) {
            for (int i = FIRST_STRIPE; i < st.length; i += PAD) {
                long x = slotVolatile(st, i);
                if ((x & SEAL) == 0) {
                    units += x & ~LOW_BITS;
                }
            }
        }
        long atomic = count - BIAS;
        return Math.max(0, atomic + slotSum(units, atomic));
    }

    /**
     * The references the slots carry, from their sum {@code units} (known modulo 2^64, so the count
     * modulo 2^51) and the atomic part {@code atomic}: the value that makes the total
     * {@code atomic + slots} lie in [-2^50, 2^50). Exact while the true total does, whatever the
     * slots and the atomic part carry apart (a slot that only takes puts falls for ever).
     */
    private static long slotSum(long units, long atomic) {
        long total = ((atomic << UNIT_SHIFT) + units) >> UNIT_SHIFT;
        return total - atomic;
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
        String life = (s & RELEASED) != 0 ? (releaseCallbackReturned() ? "RELEASED" : "RELEASING")
                : (s & DEAD) != 0 ? "DYING" : "LIVE";
        String mode = (s & ATOMIC) != 0 ? "ATOMIC" : "PERCPU";
        return life + ", " + mode + ((s & FORCE_ATOMIC) != 0 ? " (forced)" : "")
                + ", count=" + approximateCount();
    }

    // ------------------------------------------------------------------------------------------
    // Callbacks and errors
    // ------------------------------------------------------------------------------------------

    /** For a released ref: whether the release callback of this life has returned (not releasing). */
    private boolean releaseCallbackReturned() {
        Control c = control;
        CompletableFuture<Void> stage = c != null ? c.releasedStage : null;
        return stage == null || stage.isDone();
    }

    /**
     * Runs the release callback, then ends the releasing phase by completing the life's stage,
     * whatever the callback threw: a waiting reinit()/resurrect() proceeds once the stage is done.
     */
    private void runRelease(CompletableFuture<Void> stage) {
        Control c = control();
        c.releaser = Thread.currentThread();
        try {
            runCallback(onRelease, "release");
        } finally {
            c.releaser = null;
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

    /**
     * Runs {@code task} on the callback executor, or inline without one. If {@code execute} throws
     * anything (a {@link RejectedExecutionException}, a full queue's
     * {@link IllegalStateException}, an {@link OutOfMemoryError} starting a thread), the failure is
     * reported and the task runs inline: a callback is never lost. The task runs at most once even
     * if the executor both ran or queued it and then threw.
     */
    private void dispatch(Runnable task, String what) {
        Executor executor = hooks != null ? hooks.callbackExecutor : null;
        if (executor == null) {
            task.run();
            return;
        }
        Once once = task instanceof Once ? (Once) task : new Once(task);
        try {
            executor.execute(once);
        } catch (Throwable t) {
            if (t == once.failure) {
                throw sneaky(t); // the task ran inline and threw: not a failure of the executor
            }
            String failure = t instanceof RejectedExecutionException ? "rejected" : "threw " + t + " for";
            report("callback executor " + failure + " the " + what + " callback; running it inline", t);
            once.run();
        }
    }

    /** Runs its task at most once and remembers what the task threw. */
    private static final class Once implements Runnable {
        private final Runnable task;
        private final AtomicBoolean claimed = new AtomicBoolean();
        volatile Throwable failure;

        Once(Runnable task) {
            this.task = task;
        }

        @Override
        public void run() {
            if (claimed.compareAndSet(false, true)) {
                try {
                    task.run();
                } catch (Throwable t) {
                    failure = t;
                    throw t;
                }
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> RuntimeException sneaky(Throwable t) throws T {
        throw (T) t;
    }

    private void report(String message, Throwable cause) {
        PercpuRefException e = new PercpuRefException(name, describeState(), message, cause);
        Consumer<? super PercpuRefException> own = hooks != null ? hooks.errorReporter : null;
        Consumer<? super PercpuRefException> reporter = own != null ? own : defaultErrorReporter;
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

    private void requireCount(long n) {
        if (n <= 0 || n > MAX_COUNT) {
            throw new IllegalArgumentException("PercpuRef '" + name + "' [" + describeState()
                    + "]: n must be positive and at most the maximum count " + MAX_COUNT + ", was " + n);
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

    private long getAndAddBase(long delta) {
        return (long) BASE.getAndAdd(this, delta);
    }

    private long getAndSetBase(long value) {
        return (long) BASE.getAndSet(this, value);
    }

    private static long slotVolatile(long[] s, int i) {
        return (long) SLOT.getVolatile(s, i);
    }

    private static long getAndAddSlot(long[] s, int i, long delta) {
        return (long) SLOT.getAndAdd(s, i, delta);
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
