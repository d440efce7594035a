package io.percpuref.registry;

import io.percpuref.PercpuRef;
import io.percpuref.ResourceUnavailableException;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The registry's record of one managed resource, and the {@link ManagedResource} handed to users.
 *
 * <p>Structure: one {@link PercpuRef} per entry, built with the release action as its release
 * callback and the registry's callback executor. The ref's initial reference stands for the
 * registration; leases are ordinary references ({@code tryGetLive}/{@code put}), so the ref's
 * guarantees (linearizable kill, exactly-once release, confirm before release) are the entry's.
 *
 * <p>State: {@code LIVE -> DYING -> RELEASING -> RELEASED}, in {@link #state}. The
 * {@code LIVE -> DYING} CAS in {@link #killIfLive()} elects the one caller that kills the ref, so the
 * ref never sees a second kill from the registry. {@code RELEASING} and {@code RELEASED} are written
 * by the ref's release callback, the only place that can run once the count reaches zero: before
 * and after the release action.
 *
 * <p>Ordering of a kill: (1) CAS to DYING, (2) record the kill time and track every lease from now
 * on ({@link #TRACK_FROM_KILL}), (3) {@code ref.kill(confirm)},
 * with the callbacks it triggers held back, (4) the registry's counters, stuck watch and
 * {@code onKilled} listeners, (5) the held-back callbacks go to the callback executor, except the
 * confirm task when it is only the registry's bookkeeping ({@link RefRegistry#inlineConfirmListeners()}: no
 * listener with an {@code onConfirmed} of its own), which runs right here in the killing thread, so
 * kill to confirm takes no thread hop (a release it triggers still goes to the executor). So the ref is
 * dead before any user code of the kill runs (a failure in (4) cannot leave a DYING entry with a
 * live ref), and {@code onKilled} still precedes {@code onConfirmed}/{@code onReleased} even when the
 * executor runs callbacks inline. An acquire between (1) and (3) may still succeed; it is
 * concurrent with the kill, and the release waits for it.
 *
 * <p>Release sequence, on the callback executor: state RELEASING, release action (a failure is
 * kept and reported), release time, state RELEASED, then {@link RefRegistry#released}: leave the map (name free), counters, let go of the
 * stuck watch (nothing to cancel: the registry's sweep skips a released kill), {@code onReleased}. The ref's {@code released()} stage, which {@link #released()}
 * returns, completes after all of this.
 *
 * <p>Which leases are tracked: {@link #sampling}, this entry's copy of the registry's rate (leak
 * detection level and interval, changeable at run time), read opaque by each lease; the kill sets
 * it for good to track every lease ("track from kill"), so a dying entry can name every holder it
 * got after its kill. See {@link #applySampling()} for how copies follow a tuning.
 *
 * <p>Leak tracking: a tracked lease's {@link LeakRecord} lives in {@link #holders}, created on first
 * use, so entries that never track a lease pay one null field, until the lease is closed or leaks;
 * an unreclaimed leak is then kept only as a count in {@link #leakSites} (bounded per entry). It is a lock-free skip list keyed by a
 * per-entry sequence number (no {@code synchronized}, unlike a ConcurrentHashMap's bin locks, so a
 * tracked lease never pins a virtual thread).
 *
 * <p>Open leases ({@link #openLeases()}): the ref's count less the initial reference while it is
 * held. The ref drops that reference at the end of its confirm task, after the confirm callback and
 * its listeners, so {@link #initialRef} tracks the drop in three phases (held, dropping, dropped;
 * see {@link #runCallback}) and a read racing the drop is retried rather than miscounted by one.
 * Only the callback tasks write it: the lease fast path is untouched.
 */
final class ManagedEntry<T> implements ManagedResource<T> {

    private static final VarHandle STATE;
    private static final VarHandle STUCK;
    private static final VarHandle HOLDERS;
    private static final VarHandle LEAK_SITES;
    private static final VarHandle SAMPLING;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            STATE = lookup.findVarHandle(ManagedEntry.class, "state", RefState.class);
            STUCK = lookup.findVarHandle(ManagedEntry.class, "stuck", int.class);
            HOLDERS = lookup.findVarHandle(ManagedEntry.class, "holders", Holders.class);
            LEAK_SITES = lookup.findVarHandle(ManagedEntry.class, "leakSites", LeakSites.class);
            SAMPLING = lookup.findVarHandle(ManagedEntry.class, "sampling", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** {@link #stuck}: not reported stuck. */
    private static final int NOT_STUCK = 0;
    /** {@link #stuck}: reported stuck and counted in the registry's stuck gauge. */
    private static final int STUCK_COUNTED = 1;
    /** {@link #stuck}: released; can no longer become stuck, and is uncounted if it was. */
    private static final int STUCK_SETTLED = 2;

    /** {@link #initialRef}: the ref's initial reference (the registration) is held: live, or killed and not confirmed. */
    private static final int INITIAL_HELD = 0;
    /** {@link #initialRef}: the confirm callback ran; the ref drops the initial reference at the end of that callback task. */
    private static final int INITIAL_DROPPING = 1;
    /** {@link #initialRef}: the confirm callback task returned, so the initial reference has been dropped. */
    private static final int INITIAL_DROPPED = 2;
    /** {@link #sampling}: track no lease. */
    static final int TRACK_NONE = 0;
    /** {@link #sampling}: track every lease (PARANOID). */
    static final int TRACK_ALL = 1;
    /**
     * {@link #sampling}: killed, track every lease from now on (the leases a dying resource can still
     * get: {@link Lease#retain()}, or an acquire concurrent with the kill). Final: tuning never
     * overwrites it.
     */
    static final int TRACK_FROM_KILL = -1;
    /** How long {@link #openLeases()} waits for a confirm callback task to return after its last step. */
    private static final long CONFIRM_SETTLE_NANOS = 1_000_000;

    /** The registry this entry belongs to. */
    final RefRegistry registry;
    /** Registered name, unique among the registry's non-released entries. */
    private final String name;
    /** The managed resource; handed out by leases. */
    final T resource;
    /** Closes the resource; run once, by the ref's release callback. */
    private final ReleaseAction<? super T> releaseAction;
    /** The reference count; leases are its references, the registration its initial reference. */
    final PercpuRef ref;
    /**
     * Which leases to track: {@link #TRACK_NONE}, {@link #TRACK_ALL}, n &gt; 1 one lease in n (random),
     * or {@link #TRACK_FROM_KILL} once killed. Read opaque by every lease (as cheap as the final
     * field it used to be); written by the registry's runtime tuning ({@link #applySampling}) and,
     * once and for good, by the kill.
     */
    private int sampling;
    /** {@link System#nanoTime()} at registration. */
    private final long registeredAt;

    /** LIVE, DYING, RELEASING or RELEASED; changes by CAS (kill) or by the release callback. */
    private volatile RefState state = RefState.LIVE;
    /** The thread inside {@link #killIfLive()} whose confirm task runs inline, while its ref.kill() runs; else null. */
    private volatile Thread confirmingThread;
    /** That kill's confirm task, parked by {@link #dispatch} until the kill's bookkeeping is done; only its thread touches it. */
    private Runnable parkedConfirm;
    /**
     * The listeners an inline confirm notifies: the snapshot that {@link RefRegistry#inlineConfirmListeners()}
     * found to be bookkeeping only, so that a listener added meanwhile (user code) is never run in the
     * killing thread. Null when the confirm runs on the callback executor. Written and read by the
     * killing thread only.
     */
    private RefListener[] inlineConfirmListeners;
    /** nanoTime of the kill; 0 until written, just after the CAS to DYING. */
    private volatile long killedAt;
    /** nanoTime when the release action finished; written before state becomes RELEASED. */
    private volatile long releasedAt;
    /** What the release action threw, or null; written before state becomes RELEASED. */
    private Throwable releaseFailure;
    /**
     * Whether the ref's count still includes its initial reference: INITIAL_HELD, then INITIAL_DROPPING
     * (set by the confirm callback, which the ref follows with the drop), then INITIAL_DROPPED (set
     * once the callback task that dropped it returned; see {@link #runCallback}).
     */
    private volatile int initialRef;
    /** NOT_STUCK, STUCK_COUNTED or STUCK_SETTLED; see {@link #markStuck()} and {@link #settleStuck()}. */
    private volatile int stuck;
    /** This kill's record in the registry's stuck watch, cleared at release; null until the kill. */
    private volatile RefRegistry.StuckWatch watch;
    /** Records of this entry's open tracked leases; null until the first. */
    private volatile Holders holders;
    /** This entry's unreclaimed leaks by acquisition site; null until the first. */
    private volatile LeakSites leakSites;

    ManagedEntry(RefRegistry registry, String name, T resource, ReleaseAction<? super T> releaseAction,
                 int sampling) {
        this.registry = registry;
        this.name = name;
        this.resource = resource;
        this.releaseAction = releaseAction;
        this.sampling = sampling; // published with the entry (the registry map is the safe publication)
        this.registeredAt = System.nanoTime();
        this.ref = PercpuRef.builder()
                .name(name)
                .onRelease(r -> release())
                .callbackExecutor(this::dispatch)
                .errorReporter(registry::reportRefError)
                .build();
    }

    @Override
    public String name() {
        return name;
    }

    // ------------------------------------------------------------------------------------------
    // Leases (the hot path)
    // ------------------------------------------------------------------------------------------

    @Override
    public Lease<T> acquire() {
        RefLease<T> lease = lease();
        if (lease == null) {
            throw unavailable();
        }
        return lease;
    }

    @Override
    public Optional<Lease<T>> tryAcquire() {
        return Optional.ofNullable(lease());
    }

    /**
     * The scoped lease: no lease object unless every lease is tracked (PARANOID, or killed
     * concurrently: the same rule as {@link #wrap()}, read after the reference is taken), since a
     * reference put in this method's {@code finally} cannot leak; sampling (SIMPLE) would only make
     * the JIT allocate where nothing can be found. The untracked path allocates nothing.
     */
    @Override
    public <R> R withLease(Function<? super T, ? extends R> work) {
        Objects.requireNonNull(work, "work");
        if (!ref.tryGetLive()) {
            registry.rejected(name, state);
            throw unavailable();
        }
        int n = samplingOpaque();
        RefLease<T> tracked = n == TRACK_ALL || n == TRACK_FROM_KILL ? trackedLease() : null;
        try {
            return work.apply(resource);
        } finally {
            if (tracked != null) {
                tracked.close(); // puts the reference and ends the tracking
            } else {
                ref.put();
            }
        }
    }

    /** tryGetLive and wrap the reference in a lease; null (and a counted rejection) if not live. */
    private RefLease<T> lease() {
        if (!ref.tryGetLive()) {
            registry.rejected(name, state);
            return null;
        }
        return wrap();
    }

    /**
     * Another lease on behalf of the holder of an open lease ({@link RefLease#retain()}): an
     * unconditional get, valid while dying because the caller's reference keeps the count above
     * zero.
     */
    RefLease<T> retained() {
        ref.get();
        return wrap();
    }

    /** Wraps a reference just taken in a lease, tracked or not per the sampling rate. */
    private RefLease<T> wrap() {
        int n = samplingOpaque();
        if (n == TRACK_NONE || (n > 1 && ThreadLocalRandom.current().nextInt(n) != 0)) {
            return new RefLease<>(this);
        }
        return trackedLease();
    }

    private RefLease<T> trackedLease() {
        try {
            return new RefLease.Tracked<>(this);
        } catch (Throwable t) {
            ref.put(); // the lease was never handed out: give its reference back
            throw t;
        }
    }

    private ResourceUnavailableException unavailable() {
        RefState s = state;
        return new ResourceUnavailableException(name, s.name(), switch (s) {
            case RELEASED -> "it has been released";
            case RELEASING -> "it has been killed and its release action is running";
            default -> "it has been killed; no new leases are handed out";
        });
    }

    // ------------------------------------------------------------------------------------------
    // Kill, confirm, release
    // ------------------------------------------------------------------------------------------

    @Override
    public CompletionStage<Void> kill() {
        CompletionStage<Void> confirmedStage = killIfLive();
        if (confirmedStage == null) {
            throw new IllegalStateException(describe() + ": kill() on a resource that was already killed");
        }
        return confirmedStage;
    }

    @Override
    public Optional<CompletionStage<Void>> tryKill() {
        return Optional.ofNullable(killIfLive());
    }

    /**
     * Kills this entry if it is live; returns the confirm stage, or null if it was not live.
     *
     * <p>Order (see the class comment): CAS to DYING, kill the ref, then the bookkeeping (counters,
     * stuck watch, {@code onKilled}). The ref's confirm callback, which the kill triggers, is held
     * back until the bookkeeping is done ({@link RefRegistry#withDeferredCallbacks}), so
     * {@code onKilled} still precedes {@code onConfirmed}. If the ref's kill fails before taking
     * effect, the entry goes back to LIVE; once it took effect, a failure in the bookkeeping (a VM
     * error in a listener, no memory for the stuck detector's thread) propagates but leaves entry
     * and ref agreeing: both dying.
     */
    CompletionStage<Void> killIfLive() {
        if (!STATE.compareAndSet(this, RefState.LIVE, RefState.DYING)) {
            return null;
        }
        killedAt = System.nanoTime();
        trackFromKill();
        return registry.withDeferredCallbacks(false, () -> {
            CompletionStage<Void> confirmedStage;
            confirmingThread = Thread.currentThread(); // dispatch() parks this kill's confirm task
            try {
                // Linearization point of the kill: every tryGetLive() that starts after this returns fails.
                confirmedStage = ref.kill(r -> confirm());
            } catch (Throwable t) {
                if (!ref.isDying()) {
                    killedAt = 0;
                    state = RefState.LIVE; // the ref is still live: so is the entry
                    untrackFromKill();
                }
                throw t;
            } finally {
                confirmingThread = null;
            }
            try {
                registry.killed(this);
            } finally {
                Runnable confirmTask = parkedConfirm;
                if (confirmTask != null) {
                    parkedConfirm = null;
                    // Decided again, on the listeners the confirm will notify: an onKilled listener or
                    // another thread may have added one with an onConfirmed of its own since the kill.
                    RefListener[] bookkeeping = registry.inlineConfirmListeners();
                    if (bookkeeping == null) {
                        registry.execute(this, () -> runCallback(confirmTask));
                    } else {
                        // After the kill's bookkeeping, as a deferred task would run, but in this thread:
                        // no hop to the callback executor. A release it triggers is dispatched normally.
                        inlineConfirmListeners = bookkeeping;
                        try {
                            runCallback(confirmTask);
                        } finally {
                            inlineConfirmListeners = null;
                        }
                    }
                }
            }
            return confirmedStage;
        });
    }

    /**
     * The executor of the ref's callbacks. The confirm task of a kill whose confirm is bookkeeping
     * only ({@link RefRegistry#inlineConfirmListeners()}) is parked for {@link #killIfLive()} to run in the
     * killing thread; everything else (release tasks, other confirms) goes to the registry's
     * callback executor.
     */
    private void dispatch(Runnable task) {
        if (confirmingThread == Thread.currentThread()) {
            confirmingThread = null;
            parkedConfirm = task;
            return;
        }
        registry.execute(this, () -> runCallback(task));
    }

    /**
     * Runs one of the ref's callback tasks (confirm or release). The confirm task ends by dropping the
     * initial reference, and a release task runs only once the count reached zero: either way, when a
     * task returns after {@link #confirm()} ran, the initial reference is gone.
     */
    private void runCallback(Runnable task) {
        try {
            task.run();
        } finally {
            if (initialRef == INITIAL_DROPPING) {
                initialRef = INITIAL_DROPPED;
            }
        }
    }

    /** The ref's one-off confirm callback; runs before release, on the callback executor or inline (see {@link #dispatch}). */
    private void confirm() {
        initialRef = INITIAL_DROPPING;
        RefListener[] inline = inlineConfirmListeners;
        if (inline != null) {
            registry.confirmed(this, inline);
        } else {
            registry.confirmed(this);
        }
    }

    /** The ref's release callback: runs once, on the callback executor, when the count reached zero. */
    private void release() {
        state = RefState.RELEASING;
        RegistryEvents.Release event = RegistryEvents.beginRelease();
        try {
            releaseAction.release(resource);
        } catch (Throwable t) {
            if (t instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            releaseFailure = t; // published by the write of RELEASED below
            registry.releaseFailed(this, t);
            if (t instanceof VirtualMachineError) {
                throw (VirtualMachineError) t;
            }
        } finally {
            releasedAt = System.nanoTime();
            RegistryEvents.endRelease(event, registry, this, releaseFailure != null);
            // release: the release time and everything the action did are visible to readers of RELEASED
            state = RefState.RELEASED;
            registry.released(this);
        }
    }

    @Override
    public CompletionStage<Void> released() {
        return ref.released();
    }

    // ------------------------------------------------------------------------------------------
    // Stuck detection
    // ------------------------------------------------------------------------------------------

    /** Remembers this kill's watch record; lets go of it at once if the entry released meanwhile. */
    void watch(RefRegistry.StuckWatch w) {
        watch = w;
        // Pairs with unwatch(), after RELEASED: it writes RELEASED then reads watch; we write watch then
        // read RELEASED. With volatile accesses at least one of us sees the other, so the watch never
        // keeps a released entry reachable.
        if (state == RefState.RELEASED) {
            w.entry = null;
        }
    }

    /** At release: the watch no longer needs this entry (nothing is cancelled; the sweep skips it). */
    void unwatch() {
        RefRegistry.StuckWatch w = watch;
        if (w != null) {
            w.entry = null;
        }
    }

    /** nanoTime of the kill; 0 before it. */
    long killedAt() {
        return killedAt;
    }

    /** @return true once, for the caller that must count and report this entry as stuck */
    boolean markStuck() {
        RefState s = state;
        return (s == RefState.DYING || s == RefState.RELEASING) && STUCK.compareAndSet(this, NOT_STUCK, STUCK_COUNTED);
    }

    /** Called at release. @return true if the entry had been counted stuck and must be uncounted */
    boolean settleStuck() {
        return (int) STUCK.getAndSet(this, STUCK_SETTLED) == STUCK_COUNTED;
    }

    // ------------------------------------------------------------------------------------------
    // Which leases are tracked (sampling, runtime tuning, track from kill)
    // ------------------------------------------------------------------------------------------

    /** The tracking rate as a lease reads it: opaque, so a tuning is seen without ordering the fast path. */
    private int samplingOpaque() {
        return (int) SAMPLING.getOpaque(this);
    }

    /** The current tracking rate; for tests and descriptions. */
    int sampling() {
        return (int) SAMPLING.getVolatile(this);
    }

    /**
     * Track every lease from now on: the kill's step right after the CAS to DYING, before the ref's
     * kill, so every lease that takes effect after the kill (retained, or an acquire racing it) is
     * tracked. Volatile: {@link #applySampling} reads it after its own write (see there).
     */
    private void trackFromKill() {
        SAMPLING.setVolatile(this, TRACK_FROM_KILL);
    }

    /** The kill did not take effect (the ref's kill failed): back to the registry's rate. */
    private void untrackFromKill() {
        SAMPLING.setVolatile(this, registry.samplingRate());
        applySampling();
    }

    /**
     * Brings this entry's rate to the registry's current one ({@link RefRegistry#samplingRate()}),
     * unless the entry was killed ({@link #TRACK_FROM_KILL} is final). Called by the registry for
     * every entry after a tuning, and by {@code register} once the entry is in the map.
     *
     * <p>Converges when tunings race each other or a registration: after its CAS, the caller re-reads
     * the registry's rate and goes round again if it changed, so the last write to an entry is made
     * by a caller that saw the latest rate. A kill racing it wins: it writes TRACK_FROM_KILL with a
     * volatile write after its CAS to DYING, and a CAS here cannot replace that value.
     */
    void applySampling() {
        for (;;) {
            int want = registry.samplingRate();
            int current = (int) SAMPLING.getVolatile(this);
            if (current == TRACK_FROM_KILL || (current == want && registry.samplingRate() == want)) {
                return;
            }
            if (SAMPLING.compareAndSet(this, current, want) && registry.samplingRate() == want) {
                return;
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Leak tracking
    // ------------------------------------------------------------------------------------------

    /** Creates and registers the tracking record of a lease under construction. */
    LeakRecord track(RefLease<T> lease) {
        Holders h = holders();
        LeakRecord record = new LeakRecord(lease, this, h.nextId.getAndIncrement());
        h.byId.put(record.id(), record);
        return record;
    }

    private Holders holders() {
        Holders h = holders;
        if (h != null) {
            return h;
        }
        Holders fresh = new Holders();
        Holders witness = (Holders) HOLDERS.compareAndExchange(this, (Holders) null, fresh);
        return witness != null ? witness : fresh;
    }

    /** A tracked lease was closed. */
    void untrack(LeakRecord record) {
        holders.byId.remove(record.id());
    }

    /**
     * A tracked lease was collected without close(); runs on the callback executor (or a hand-off
     * thread). The record leaves the holders either way, so no per-lease record outlives its lease:
     * an unreclaimed leak is kept only as a count on its acquisition site ({@link LeakSites}).
     */
    void leaked(LeakRecord record) {
        boolean reclaim = registry.reclaimLeaks();
        holders.byId.remove(record.id());
        AcquisitionTrace trace = record.trace();
        if (!reclaim) {
            leakSites().add(trace, record.acquiredBy());
        }
        registry.leaked(this, trace, new LeakReport(name, record.acquiredBy(), trace, reclaim));
        if (reclaim) {
            ref.put(); // the put the leaked lease never made; may be the one that releases
        }
    }

    private LeakSites leakSites() {
        LeakSites s = leakSites;
        if (s != null) {
            return s;
        }
        LeakSites fresh = new LeakSites();
        LeakSites witness = (LeakSites) LEAK_SITES.compareAndExchange(this, (LeakSites) null, fresh);
        return witness != null ? witness : fresh;
    }

    /** The unreclaimed leaks that hold this entry, by acquisition site (bounded, see {@link LeakSite}). */
    List<LeakSite> leakSiteList() {
        LeakSites s = leakSites;
        return s == null ? List.of() : s.toList(name);
    }

    // ------------------------------------------------------------------------------------------
    // Queries
    // ------------------------------------------------------------------------------------------

    @Override
    public RefState state() {
        return state;
    }

    /** What the release action threw, or null (also null until the entry is RELEASED). */
    Throwable releaseFailure() {
        return state == RefState.RELEASED ? releaseFailure : null;
    }

    /** With the holders of a dying resource: see {@link RefInfo#openLeases()}. */
    @Override
    public RefInfo info() {
        return info(true);
    }

    /**
     * A description of this entry now; with {@code withOpenLeases}, a DYING entry's open leases too.
     * Listener events other than stuck pass false: they are cheap, and the confirm event runs inside
     * the very confirm task whose end {@link #openLeases()} would wait for.
     */
    RefInfo info(boolean withOpenLeases) {
        RefState s = state;
        if (s == RefState.RELEASED) {
            long released = releasedAt;
            return new RefInfo(name, s, 0, since(registeredAt, released), since(killedAt, released));
        }
        Optional<OpenLeases> open = withOpenLeases && s == RefState.DYING ? Optional.of(openLeases()) : Optional.empty();
        long now = System.nanoTime();
        long inFlight;
        if (open.isPresent()) {
            inFlight = open.get().count(); // read by leaseCount(), which settles a confirm that is dropping the initial reference
        } else {
            long count = s == RefState.RELEASING ? 0 : ref.approximateCount();
            // The initial reference is not a lease: it is held while live and until the kill is confirmed.
            inFlight = s == RefState.LIVE || (s == RefState.DYING && initialRef == INITIAL_HELD) ? count - 1 : count;
        }
        long killed = killedAt;
        Duration dyingFor = s == RefState.LIVE || killed == 0 ? Duration.ZERO : since(killed, now);
        return new RefInfo(name, s, Math.max(0, inFlight), since(registeredAt, now), dyingFor, open);
    }

    @Override
    public OpenLeases openLeases() {
        RefState s = state;
        long count = 0;
        if (s == RefState.LIVE || s == RefState.DYING) {
            count = leaseCount();
            s = state;
        }
        long killed = killedAt;
        long now = System.nanoTime();
        Duration dyingFor = s == RefState.DYING && killed != 0 ? since(killed, now) : Duration.ZERO;
        Holders h = holders;
        if (h == null) {
            return new OpenLeases(name, s, count, List.of(), 0, leakSiteList(), dyingFor);
        }
        // Longest held first, and only the records listed become LeaseHolders (each materializes a trace).
        List<LeakRecord> records = new ArrayList<>(h.byId.values());
        records.sort(Comparator.comparingLong(LeakRecord::acquiredAt));
        int listed = Math.min(records.size(), OpenLeases.MAX_HOLDERS);
        List<LeaseHolder> holderList = new ArrayList<>(listed);
        for (int i = 0; i < listed; i++) {
            holderList.add(records.get(i).toHolder(now));
        }
        return new OpenLeases(name, s, count, holderList, records.size() - listed, leakSiteList(), dyingFor);
    }

    /**
     * The number of open leases: the ref's count less the initial reference while it is held. The
     * count is read between two reads of {@link #initialRef} that must agree. Within
     * INITIAL_DROPPING the initial reference is still counted until the confirm task's last step;
     * a task that stays in that phase (its listeners or stage dependents still running) has not
     * dropped it yet, so after a short wait for the task to return the reference is taken as held.
     */
    private long leaseCount() {
        long deadline = System.nanoTime() + CONFIRM_SETTLE_NANOS;
        for (;;) {
            int before = initialRef;
            long count = ref.approximateCount();
            int after = initialRef;
            if (before == after && (before != INITIAL_DROPPING || System.nanoTime() - deadline > 0)) {
                return Math.max(0, before == INITIAL_DROPPED ? count : count - 1);
            }
            Thread.yield();
        }
    }

    /** Nanoseconds from the kill to now (or to the release, once released); for JFR events. */
    long sinceKillNanos() {
        long killed = killedAt;
        long end = state == RefState.RELEASED ? releasedAt : System.nanoTime();
        return killed == 0 ? 0 : Math.max(0, end - killed);
    }

    private static Duration since(long start, long end) {
        return Duration.ofNanos(Math.max(0, end - start));
    }

    /** For messages: {@code resource 'aio-ctx-7' [DYING]}. */
    String describe() {
        return "resource '" + name + "' [" + state + "]";
    }

    /** For example {@code ManagedResource[aio-ctx-7: DYING, 2 in flight]}. */
    @Override
    public String toString() {
        RefInfo info = info(false);
        return "ManagedResource[" + name + ": " + info.state() + ", " + info.inFlight() + " in flight]";
    }

    /** The tracked leases of one entry. */
    private static final class Holders {
        /** Source of record ids; touched only by tracked leases of this entry. */
        final AtomicLong nextId = new AtomicLong();
        /** Open tracked leases by id; lock-free. */
        final ConcurrentSkipListMap<Long, LeakRecord> byId = new ConcurrentSkipListMap<>();
    }
}
