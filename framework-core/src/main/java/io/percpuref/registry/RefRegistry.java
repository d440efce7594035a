package io.percpuref.registry;

import io.percpuref.PercpuRefException;
import io.percpuref.ResourceUnavailableException;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Tracks managed resources by name through their lifecycle ({@link RefState#LIVE LIVE},
 * {@link RefState#DYING DYING}, {@link RefState#RELEASING RELEASING},
 * {@link RefState#RELEASED RELEASED}), hands out {@link Lease}s on
 * them, detects leaked leases and stuck resources, and shuts everything down in one call.
 *
 * <pre>{@code
 * RefRegistry registry = RefRegistry.builder()
 *         .leakDetection(LeakDetection.SIMPLE)
 *         .stuckThreshold(Duration.ofSeconds(60))
 *         .build();
 * ManagedResource<AioContext> h = registry.register("aio-ctx-7", ctx, AioContext::close);
 * try (Lease<AioContext> lease = h.acquire()) {
 *     lease.resource().submit(request);
 * }
 * ShutdownReport report = registry.shutdown(Duration.ofSeconds(30));
 * }</pre>
 *
 * <p>All methods are thread-safe. See {@code docs/registry.md} for the user guide.
 *
 * <p>A registry is {@link AutoCloseable}: {@link #close()} is {@link #shutdown(Duration)} with the
 * configured {@link Builder#shutdownTimeout(Duration) shutdown timeout}.
 */
public final class RefRegistry implements AutoCloseable {

    /*
     * Implementation overview
     * -----------------------
     * entries    name -> ManagedEntry, a ConcurrentHashMap. An entry is inserted by register()
     *            (putIfAbsent: that is the uniqueness check; an entry already RELEASED but not yet
     *            removed is replaced) and removed by its own release, with remove(name, entry), so a
     *            released entry can never remove a newer one of the same name. Registration and
     *            release of different names contend only on CHM bins.
     *
     * Hot path   Leases never touch the registry: acquire is tryGetLive() on the entry's own
     *            PercpuRef plus a lease object, close is put() after a volatile write and read on
     *            the lease (a CAS only if another thread than the acquirer closes: RefLease). An acquire
     *            reads no registry state: the tracking rate it reads is the entry's own copy (an
     *            opaque read; runtime tuning pushes a new rate to every entry, LeakTuning, and a
     *            kill sets it to "track every lease from now on"); the only registry counter it
     *            writes is `rejections`, and only when it fails. Leak tracking of a tracked lease
     *            touches the entry's own holder set.
     *
     * Counters   LongAdders (striped, contention-free): live/dying/stuck move with the state
     *            transitions (dying covers DYING and RELEASING), kills/releases/rejections/leaks/
     *            releaseFailures only grow. They are read by
     *            PercpuRefMetrics as function-based meters. Sums are NOT snapshots: live + dying may
     *            be briefly off by one while a transition is under way.
     *
     * Events     Listeners are a CopyOnWriteArrayList, called synchronously where the event happens;
     *            each call is isolated (a throwing listener is reported, the rest still run). JFR
     *            events (RegistryEvents) are committed at the same points, before the listeners,
     *            and cost nothing while no recording runs.
     *
     * Shutdown   shutdown() sets `shutdown` (volatile), then kills every entry it finds without
     *            waiting for any (kill is non-blocking; the callbacks it triggers are deferred, see
     *            Hand-off), then waits for all released stages together, up to the deadline. A
     *            register() racing it re-reads `shutdown` after its putIfAbsent and kills its own
     *            entry if set: the volatile write/read pair and the
     *            CHM insert/iteration form a Dekker pattern, so either shutdown() sees the entry or
     *            register() sees the flag; no entry stays live after shutdown.
     *
     * Stuck      One daemon thread per registry (a ScheduledThreadPoolExecutor, created at the first
     *            kill, its thread timing out after 10s idle and stopped by shutdown()) and one sweep
     *            task at most, not a task per kill (issues 10 and 15: a schedule per kill took the
     *            queue's lock and woke the detector thread, a futex call and a context switch on
     *            every kill; release took the lock again to cancel it). The threshold is the same for
     *            every kill and fixed at build time, so deadlines follow kill order: a kill appends
     *            a small StuckWatch record to `watched`, a lock-free FIFO, and schedules the sweep
     *            (at kill + stuckThreshold) only if none is pending (`sweepPending`, a CAS). The
     *            sweep reports the expired head records still dying, drops released ones, and
     *            reschedules itself for the new head's deadline, or clears the flag when nothing is
     *            watched and then looks again (a kill that appended while the flag was still set
     *            scheduled nothing: the sweep takes the flag back and carries on). Release cancels
     *            nothing: it clears its record's entry, so the watch keeps no released resource
     *            reachable; the record itself is dropped by a later kill (when it is the head: kills
     *            release mostly in order) or by the sweep, at most one threshold after its kill.
     *            One thread at a time takes from the FIFO (`taking`). Records are appended after
     *            killedAt is read, so two racing kills can enter in the other order: the later of
     *            them is then reported late by that skew (microseconds), never early. An entry is
     *            counted stuck at most once (ManagedEntry.markStuck/settleStuck).
     *
     * Callbacks  Confirm and release callbacks, leak handling and release actions run on the
     *            callback executor; the default is a cached pool of daemon threads (idle threads exit
     *            after 10s), so a release action that blocks delays only its own resource. Every
     *            entry's ref gets execute() as its executor, never the user's executor itself.
     *
     * Hand-off   Two threads must never run user code (the executor's execute(), listeners, release
     *            actions): the process-wide leak detector, which serves every registry, and the
     *            thread in shutdown(), which owes its caller a deadline. Both hand their work to
     *            `handoff`, a small pool of daemon threads owned by this registry (unbounded queue,
     *            idle threads exit), whose threads pass it on to the callback executor. A direct or
     *            rejecting executor therefore runs user code on a hand-off thread of the same
     *            registry: it can delay this registry's leak handling, never another registry's.
     *            shutdown() collects the callbacks its kills trigger in a thread-local Deferral
     *            instead of executing them, and hands them off once every entry is killed. A
     *            rejection on any other thread is handed off too, not run inline. (A single kill
     *            uses a Deferral too, passed on to the executor as usual: see ManagedEntry.)
     *
     * Leaks      A leak is counted exactly; LeakLog logs the first leak of each acquisition site in
     *            full (bounded number of sites) and summarizes the rest at most once a minute; the
     *            entry keeps unreclaimed leaks only as counts per site (LeakSites, bounded). No
     *            per-lease record outlives its lease.
     *
     * Limits     snapshot() and the counters are not atomic snapshots. Listener calls are not
     *            ordered across threads beyond the per-resource order registered < killed <
     *            confirmed < released. A leak is detected only when the GC collects the lease.
     */

    private static final System.Logger LOGGER = System.getLogger(RefRegistry.class.getName());
    private static final AtomicInteger IDS = new AtomicInteger();
    /** How long the stuck-detector, hand-off and default callback threads linger when idle. */
    private static final long IDLE_THREAD_SECONDS = 10;
    /** Hand-off threads per registry: how many blocking user callbacks it absorbs before work queues. */
    private static final int HANDOFF_THREADS = Math.max(2, Math.min(8, Runtime.getRuntime().availableProcessors()));
    /** The callbacks deferred by the shutdown() running on this thread, if any (see Hand-off). */
    private static final ThreadLocal<Deferral> DEFERRAL = new ThreadLocal<>();

    /** Released records a kill drops from the head of the stuck watch, at most: bounds the work a kill does. */
    private static final int DROP_PER_KILL = 4;
    private static final VarHandle SWEEP_PENDING;
    private static final VarHandle TAKING;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            SWEEP_PENDING = lookup.findVarHandle(RefRegistry.class, "sweepPending", boolean.class);
            TAKING = lookup.findVarHandle(RefRegistry.class, "taking", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Distinguishes this registry's thread names from other registries'. */
    private final int id = IDS.incrementAndGet();
    /** The registry's identity, for meters, thread names and log lines. */
    private final String name;
    /** Non-released entries by name. */
    private final ConcurrentHashMap<String, ManagedEntry<?>> entries = new ConcurrentHashMap<>();
    /** Event listeners, in registration order. */
    private final CopyOnWriteArrayList<RefListener> listeners = new CopyOnWriteArrayList<>();
    /** Runs confirm and release callbacks and leak handling. */
    private final Executor callbackExecutor;
    /** Whether {@link #callbackExecutor} is the registry's own pool (it never blocks or rejects). */
    private final boolean ownsCallbackExecutor;
    /** Registry-owned threads for work the caller's thread must not run (see Hand-off). */
    private final ThreadPoolExecutor handoff;
    /** Leak detection level and sampling interval, changeable at run time; each entry copies the rate. */
    private final LeakTuning leakTuning;
    /** Whether a leaked lease's reference is put back. */
    private final boolean reclaimLeaks;
    /** A ref dying longer than this is stuck. */
    private final Duration stuckThreshold;
    /** How long {@link #close()} waits. */
    private final Duration shutdownTimeout;
    /** User error reporter, or null; failures are always logged too. */
    private final Consumer<? super PercpuRefException> errorReporter;

    /** Set once by the first shutdown(); register() refuses from then on. */
    private volatile boolean shutdown;
    /** Guards creation and stopping of {@link #stuckDetector}. */
    private final ReentrantLock detectorLock = new ReentrantLock();
    /** The stuck-check scheduler; null until the first kill. */
    private volatile ScheduledThreadPoolExecutor stuckDetector;
    /** Set by shutdown(): no stuck detector is created any more. Guarded by detectorLock. */
    private boolean detectorStopped;
    /** {@link #stuckThreshold} in nanoseconds (the same for every kill, fixed at build time). */
    private final long stuckThresholdNanos;
    /** Kills under watch for stuck detection, in kill order (see Stuck in the overview). */
    private final ConcurrentLinkedQueue<StuckWatch> watched = new ConcurrentLinkedQueue<>();
    /** Whether a sweep is scheduled or running; set by the kill that schedules it, cleared by the sweep that stands down. */
    private volatile boolean sweepPending;
    /** Whether a thread is taking from {@link #watched} (the sweep, or a kill dropping released heads): one at a time. */
    private volatile boolean taking;
    /** Test hook: see {@link #afterSweepFoundNothing(Runnable)}; null in production. */
    private volatile Runnable afterSweepFoundNothing;

    /** Entries in LIVE: +1 at register, -1 at kill. */
    private final LongAdder live = new LongAdder();
    /** Entries in DYING or RELEASING: +1 at kill, -1 at release. */
    private final LongAdder dying = new LongAdder();
    /** Dying entries reported stuck: +1 at the report, -1 at their release. */
    private final LongAdder stuck = new LongAdder();
    /** Kills so far. */
    private final LongAdder kills = new LongAdder();
    /** Releases so far. */
    private final LongAdder releases = new LongAdder();
    /** Refused acquires so far (the only counter a lease request touches, and only when it fails). */
    private final LongAdder rejections = new LongAdder();
    /** Leaked leases detected so far. */
    private final LongAdder leaks = new LongAdder();
    /** Release actions that threw so far. */
    private final LongAdder releaseFailures = new LongAdder();
    /** Which leaks are logged in full, and the rate limit of the rest. */
    private final LeakLog leakLog = new LeakLog();
    /** Which refusals become JFR events (at most one per 100 ms). */
    private final RegistryEvents.RefusalSampler refusalSampler = new RegistryEvents.RefusalSampler();

    private RefRegistry(Builder b) {
        this.name = b.name;
        this.ownsCallbackExecutor = b.callbackExecutor == null;
        this.callbackExecutor = ownsCallbackExecutor ? defaultCallbackExecutor(threadPrefix()) : b.callbackExecutor;
        this.handoff = handoffPool(threadPrefix());
        this.leakTuning = new LeakTuning(b.leakDetection, b.leakSamplingInterval);
        this.reclaimLeaks = b.reclaimLeaks;
        this.stuckThreshold = b.stuckThreshold;
        this.stuckThresholdNanos = saturatedNanos(b.stuckThreshold);
        this.shutdownTimeout = b.shutdownTimeout;
        this.errorReporter = b.errorReporter;
    }

    /** Starts building a registry; see {@link Builder} for the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------------------------------
    // Registration and lookup
    // ------------------------------------------------------------------------------------------

    /**
     * Registers {@code resource} under {@code name}, live, and returns its handle.
     *
     * <p>If this call races {@link #shutdown(Duration)}, it either throws
     * {@link IllegalStateException} or returns a handle that has already been killed.
     *
     * @param name      unique among this registry's live and dying resources
     * @param resource  the resource that leases hand out
     * @param onRelease closes the resource; runs exactly once, on the callback executor, after the
     *                  resource was killed and its last lease closed
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if {@code name} is blank, or a live or dying resource already
     *                                  has that name (the existing resource is left unchanged)
     * @throws IllegalStateException    if the registry has been shut down
     */
    public <T> ManagedResource<T> register(String name, T resource, ReleaseAction<? super T> onRelease) {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("resource name must not be blank, was '" + name + "'");
        }
        Objects.requireNonNull(resource, "resource");
        Objects.requireNonNull(onRelease, "onRelease");
        if (shutdown) {
            throw new IllegalStateException("cannot register resource '" + name + "': the registry is shut down");
        }
        ManagedEntry<T> entry = new ManagedEntry<>(this, name, resource, onRelease, samplingRate());
        live.increment();
        for (;;) {
            ManagedEntry<?> existing = entries.putIfAbsent(name, entry);
            if (existing == null) {
                break;
            }
            if (existing.state() != RefState.RELEASED) {
                live.decrement();
                throw new IllegalArgumentException(existing.describe()
                        + " is already registered; a name is free again once its resource is released");
            }
            // Released but not yet removed by its release callback: the name is free, take its slot.
            if (entries.replace(name, existing, entry)) {
                break;
            }
        }
        // A tuning that iterated the map before this entry was in it is applied here (see LeakTuning).
        entry.applySampling();
        fire("onRegistered", entry, RefListener::onRegistered);
        if (shutdown) {
            // Lost the race with shutdown(), which may not have seen this entry (see overview).
            entry.killIfLive();
        }
        return entry;
    }

    /**
     * Creates a {@link CurrentResource}: one name whose resource is replaced over time by
     * {@link CurrentResource#swap}, leases always going to the current generation. Its generations
     * are registered here as {@code <name>#<generation>}, starting with {@code initial} as
     * {@code <name>#1}.
     *
     * @param name      the holder's name (its generations' names are derived from it)
     * @param initial   the first generation's resource
     * @param onRelease closes each generation's resource once it has been swapped out (or the holder
     *                  closed) and drained
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if {@code name} is blank or {@code <name>#1} is registered
     * @throws IllegalStateException    if the registry has been shut down
     */
    public <T> CurrentResource<T> current(String name, T initial, ReleaseAction<? super T> onRelease) {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("current resource name must not be blank, was '" + name + "'");
        }
        Objects.requireNonNull(initial, "initial");
        Objects.requireNonNull(onRelease, "onRelease");
        return new CurrentHolder<>(this, name, initial, onRelease);
    }

    /**
     * Leases the resource registered under {@code name}, as {@code find(name)} and then
     * {@link ManagedResource#acquire()} would, except that a name under which nothing is registered
     * (never, or no longer: its release removed it) is refused as well, as a released resource:
     * every refusal, known name or not, is counted in {@link #rejectionCount()}
     * ({@code percpu.refs.rejections}).
     *
     * @throws NullPointerException         if {@code name} is null
     * @throws ResourceUnavailableException if the resource is dying, releasing or released, or
     *                                      nothing is registered under {@code name}
     */
    public Lease<?> acquire(String name) {
        Objects.requireNonNull(name, "name");
        ManagedEntry<?> e = entries.get(name);
        if (e == null) {
            rejected(name, RefState.RELEASED);
            throw new ResourceUnavailableException(name, RefState.RELEASED.name(),
                    "no resource is registered under this name in registry '" + this.name + "'");
        }
        return e.acquire();
    }

    /**
     * The live or dying resource registered under {@code name}, if any.
     *
     * @throws NullPointerException if {@code name} is null
     */
    public Optional<ManagedResource<?>> find(String name) {
        Objects.requireNonNull(name, "name");
        ManagedEntry<?> e = entries.get(name);
        // A RELEASED entry may linger for a moment before its release callback removes it.
        return e == null || e.state() == RefState.RELEASED ? Optional.empty() : Optional.of(e);
    }

    /**
     * The live, dying or releasing resource registered under {@code name}, typed: its resource is a
     * {@code type}.
     *
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if a resource of that name exists but is not a {@code type}
     *                                  (the message names it, its state and both types)
     */
    @SuppressWarnings("unchecked") // checked: the resource is an instance of type
    public <T> Optional<ManagedResource<T>> find(String name, Class<T> type) {
        Objects.requireNonNull(type, "type");
        Optional<ManagedResource<?>> found = find(name);
        if (found.isEmpty()) {
            return Optional.empty();
        }
        ManagedEntry<?> e = (ManagedEntry<?>) found.get();
        if (!type.isInstance(e.resource)) {
            throw new IllegalArgumentException(e.describe() + " is a " + e.resource.getClass().getName()
                    + ", not a " + type.getName());
        }
        return Optional.of((ManagedResource<T>) e);
    }

    /**
     * Describes every live and dying resource, in name order. Each {@link RefInfo} is read
     * separately: this is NOT an atomic snapshot of the registry.
     */
    public List<RefInfo> snapshot() {
        List<RefInfo> infos = new ArrayList<>(entries.size());
        for (ManagedEntry<?> e : entries.values()) {
            RefInfo info = e.info();
            if (info.state() != RefState.RELEASED) { // released after we found it, before it left the map
                infos.add(info);
            }
        }
        infos.sort(Comparator.comparing(RefInfo::name));
        return List.copyOf(infos);
    }

    /**
     * The open leases of every live and dying resource that has any, in name order: deterministic
     * leak presence, without the garbage collector. Call it at a point where every lease should be
     * closed (end of a test, of a request scope, before shutdown); a non-empty result names each
     * resource with the exact number of its open leases and, for the leases that leak detection
     * tracks (all with {@link LeakDetection#PARANOID}, a sample with {@link LeakDetection#SIMPLE}),
     * the acquiring thread, the age and the acquisition site.
     *
     * <p>Only reads: acquiring and closing leases cost nothing more for it. Each resource is read
     * separately, as in {@link ManagedResource#openLeases()}: counts are exact for resources whose
     * leases are not being acquired or closed meanwhile; this is NOT an atomic snapshot.
     *
     * @return one {@link OpenLeases} per resource with at least one open lease; empty if none
     */
    public List<OpenLeases> openLeases() {
        List<OpenLeases> open = new ArrayList<>();
        for (ManagedEntry<?> e : entries.values()) {
            OpenLeases leases = e.openLeases();
            if (!leases.isEmpty()) {
                open.add(leases);
            }
        }
        open.sort(Comparator.comparing(OpenLeases::refName));
        return List.copyOf(open);
    }

    // ------------------------------------------------------------------------------------------
    // Listeners
    // ------------------------------------------------------------------------------------------

    /**
     * Adds a listener for events from now on; see {@link RefListener} for where each event is
     * called. Adding the same listener twice makes it receive each event twice.
     *
     * @throws NullPointerException if {@code listener} is null
     */
    public void addListener(RefListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Removes one registration of {@code listener}; it may still receive an event that was being
     * delivered concurrently.
     *
     * @return whether it was registered
     * @throws NullPointerException if {@code listener} is null
     */
    public boolean removeListener(RefListener listener) {
        return listeners.remove(Objects.requireNonNull(listener, "listener"));
    }

    // ------------------------------------------------------------------------------------------
    // Shutdown
    // ------------------------------------------------------------------------------------------

    /**
     * Kills every live resource, all at once (no kill waits for another resource), then waits up to
     * {@code timeout} for every live and dying resource to be released, and reports the outcome.
     * From the first call on, {@link #register} refuses and the stuck detector is stopped.
     *
     * <p>Calling it again is allowed: it reports on the resources still dying (the stragglers of the
     * earlier call), after waiting up to the new timeout for them.
     *
     * @param timeout how long to wait; {@link Duration#ZERO} kills and reports without waiting
     * @return which resources were released and which are still dying, with their outstanding lease
     *         counts and, where leak detection tracked them, their holders
     * @throws NullPointerException     if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public ShutdownReport shutdown(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("shutdown timeout must not be negative, was " + timeout);
        }
        long deadline = System.nanoTime() + saturatedNanos(timeout);
        shutdown = true;
        List<ManagedEntry<?>> candidates = new ArrayList<>(entries.values());
        List<CompletableFuture<Void>> releasedStages = new ArrayList<>(candidates.size());
        killAll(candidates);
        for (ManagedEntry<?> e : candidates) {
            releasedStages.add(e.released().toCompletableFuture());
        }
        awaitAll(releasedStages, deadline - System.nanoTime());
        stopStuckDetector();
        return report(candidates);
    }

    /**
     * Kills every live entry of {@code candidates} without running any callback in this thread: the
     * confirm and release callbacks the kills trigger are collected and handed off only after the
     * last kill, so no executor or release action can delay a kill or this thread. An error killing
     * one entry (a VM error in a listener) does not stop the others; the first is rethrown at the end.
     */
    private void killAll(List<ManagedEntry<?>> candidates) {
        Error failure = withDeferredCallbacks(true, () -> {
            Error first = null;
            for (ManagedEntry<?> e : candidates) {
                try {
                    e.killIfLive(); // does not wait: the release happens when the last lease closes
                } catch (Error err) {
                    if (first == null) {
                        first = err;
                    }
                }
            }
            return first;
        });
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Runs {@code body} with the callbacks that this thread hands to this registry's entries' refs
     * collected instead of executed, then passes them on: to hand-off threads if {@code handOff}
     * (shutdown: this thread runs no user code), else to the callback executor as usual (kill: the
     * callbacks run after the kill's bookkeeping). Nests: an inner call's callbacks, passed on after
     * the inner body, are collected by the outer one.
     */
    <R> R withDeferredCallbacks(boolean handOff, Supplier<R> body) {
        Deferral deferral = new Deferral(this, handOff);
        Deferral outer = DEFERRAL.get();
        DEFERRAL.set(deferral);
        try {
            return body.get();
        } finally {
            if (outer == null) {
                DEFERRAL.remove();
            } else {
                DEFERRAL.set(outer);
            }
            for (int i = 0; i < deferral.tasks.size(); i++) {
                if (handOff) {
                    handOff(deferral.entries.get(i), deferral.tasks.get(i));
                } else {
                    execute(deferral.entries.get(i), deferral.tasks.get(i));
                }
            }
        }
    }

    /**
     * {@link #shutdown(Duration)} with the configured {@link Builder#shutdownTimeout(Duration)
     * shutdown timeout}, unless the registry is already shut down (then it returns at once: it never
     * waits twice). If the outcome is not clean, it is logged at {@code WARNING}.
     */
    @Override
    public void close() {
        if (shutdown) {
            return;
        }
        ShutdownReport report = shutdown(shutdownTimeout);
        if (!report.isClean()) {
            LOGGER.log(System.Logger.Level.WARNING, "registry '" + name + "' closed after " + shutdownTimeout
                    + ": " + report);
        }
    }

    private static void awaitAll(List<CompletableFuture<Void>> stages, long nanos) {
        if (nanos <= 0 || stages.isEmpty()) {
            return;
        }
        try {
            CompletableFuture.allOf(stages.toArray(new CompletableFuture<?>[0])).get(nanos, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            // Not everything was released in time: the report lists the stragglers.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // report what we have now
        } catch (ExecutionException e) {
            throw new AssertionError("a released() stage never completes exceptionally", e);
        }
    }

    private static ShutdownReport report(List<ManagedEntry<?>> candidates) {
        List<String> releasedNames = new ArrayList<>();
        List<RefInfo> stragglers = new ArrayList<>();
        Map<String, List<LeaseHolder>> holders = new LinkedHashMap<>();
        Map<String, List<LeakSite>> leakSites = new LinkedHashMap<>();
        Map<String, Throwable> failures = new TreeMap<>();
        for (ManagedEntry<?> e : candidates) {
            RefInfo info = e.info();
            if (info.state() == RefState.RELEASED) {
                releasedNames.add(info.name());
                Throwable failure = e.releaseFailure();
                if (failure != null) {
                    failures.put(info.name(), failure);
                }
            } else {
                stragglers.add(info);
                // Bounded (OpenLeases.MAX_HOLDERS); a RELEASING straggler holds no lease.
                holders.put(info.name(), info.openLeases().map(OpenLeases::holders).orElse(List.of()));
                leakSites.put(info.name(), e.leakSiteList());
            }
        }
        releasedNames.sort(Comparator.naturalOrder());
        stragglers.sort(Comparator.comparing(RefInfo::name));
        return new ShutdownReport(releasedNames, stragglers, holders, leakSites, failures);
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException overflow) {
            return Long.MAX_VALUE / 2; // centuries; keeps deadline arithmetic from overflowing
        }
    }

    // ------------------------------------------------------------------------------------------
    // Configuration and counters (read by PercpuRefMetrics and the Spring starter)
    // ------------------------------------------------------------------------------------------

    /** The registry's name ({@link Builder#name(String)}); {@code "default"} unless configured. */
    public String name() {
        return name;
    }

    /** Whether {@link #shutdown(Duration)} has been called. */
    public boolean isShutdown() {
        return shutdown;
    }

    /** The current leak detection level: the configured one, or the latest {@link #setLeakDetection}. */
    public LeakDetection leakDetection() {
        return leakTuning.setting().level();
    }

    /**
     * The current sampling interval of {@link LeakDetection#SIMPLE}: one lease in this many is
     * tracked. The configured one ({@link Builder#leakSamplingInterval(int)}), or the latest
     * {@link #setLeakSamplingInterval}; kept, unused, while the level is another.
     */
    public int leakSamplingInterval() {
        return leakTuning.setting().interval();
    }

    // ------------------------------------------------------------------------------------------
    // Runtime tuning (see LeakTuning)
    // ------------------------------------------------------------------------------------------

    /**
     * Changes the leak detection level of this running registry: leases acquired from now on, on
     * every live resource and on those registered later, are tracked per {@code level}. Leases
     * already open keep the tracking they got (a tracked lease's leak is still reported); a dying
     * resource tracks every lease it still hands out whatever the level. Logged at {@code INFO}.
     *
     * <p>Use it to chase a leak in production ({@link LeakDetection#PARANOID} for a while, then back)
     * without a restart. Allowed after shutdown (it then changes nothing that matters).
     *
     * @throws NullPointerException if {@code level} is null
     */
    public void setLeakDetection(LeakDetection level) {
        Objects.requireNonNull(level, "level");
        retune(level, null);
    }

    /**
     * Changes the sampling interval of {@link LeakDetection#SIMPLE} on this running registry: one
     * lease in {@code interval} acquired from now on is tracked. Takes effect while the level is
     * SIMPLE (at once if it is); otherwise it is kept for when it becomes SIMPLE. Leases already open
     * keep the tracking they got. Logged at {@code INFO}.
     *
     * @throws IllegalArgumentException if {@code interval < 1} (the message names the registry)
     */
    public void setLeakSamplingInterval(int interval) {
        if (interval < 1) {
            throw new IllegalArgumentException("registry '" + name + "' (leak detection " + leakDetection()
                    + "): leak sampling interval must be at least 1, was " + interval);
        }
        retune(null, interval);
    }

    private void retune(LeakDetection level, Integer interval) {
        LeakTuning.Setting[] change = leakTuning.change(level, interval);
        // After the new setting is published: an entry registered meanwhile applies it itself.
        for (ManagedEntry<?> e : entries.values()) {
            e.applySampling();
        }
        LOGGER.log(System.Logger.Level.INFO, "registry '" + name + "': leak detection " + describe(change[0])
                + " -> " + describe(change[1]) + " for leases acquired from now on");
    }

    private static String describe(LeakTuning.Setting s) {
        return s.level() + " (sampling interval " + s.interval() + ")";
    }

    /** The tracking rate new leases of live resources get (see {@link ManagedEntry#applySampling()}). */
    int samplingRate() {
        return leakTuning.rate();
    }

    /** The configured stuck threshold. */
    public Duration stuckThreshold() {
        return stuckThreshold;
    }

    /** How long {@link #close()} waits for releases ({@link Builder#shutdownTimeout(Duration)}). */
    public Duration shutdownTimeout() {
        return shutdownTimeout;
    }

    /** Number of live resources (approximate while registrations and kills are under way). */
    public long liveCount() {
        return live.sum();
    }

    /**
     * Number of dying resources, stuck and {@link RefState#RELEASING releasing} ones included
     * (approximate while kills and releases are under way).
     */
    public long dyingCount() {
        return dying.sum();
    }

    /** Number of resources dying longer than the stuck threshold, and reported so, that have not released yet. */
    public long stuckCount() {
        return stuck.sum();
    }

    /** Total kills since the registry was built. */
    public long killCount() {
        return kills.sum();
    }

    /** Total releases since the registry was built. */
    public long releaseCount() {
        return releases.sum();
    }

    /** Total failed {@code acquire()}/{@code tryAcquire()} calls on dying or released resources. */
    public long rejectionCount() {
        return rejections.sum();
    }

    /** Total leaked leases detected. */
    public long leakCount() {
        return leaks.sum();
    }

    /** Total release actions that threw (the resource still counts as released). */
    public long releaseFailureCount() {
        return releaseFailures.sum();
    }

    // ------------------------------------------------------------------------------------------
    // Events from entries (package-private)
    // ------------------------------------------------------------------------------------------

    /**
     * Whether a kill may run its confirm task (the registry's own bookkeeping: onConfirmed
     * listeners, the kill stage, the drop of the initial reference) in the killing thread instead of
     * handing it to the callback executor: it may unless a listener has an {@code onConfirmed} of
     * its own, which is user code and runs on the callback executor as documented. The Micrometer
     * binder's listener only records a timer and counts as bookkeeping. Release actions are
     * dispatched to the callback executor either way.
     *
     * @return the listeners the inline confirm notifies (a snapshot, so that one added after this
     *         decision, by an {@code onKilled} listener or another thread, never runs in the killing
     *         thread; see {@link #confirmed(ManagedEntry, RefListener[])}), or null: the confirm
     *         goes to the callback executor
     */
    RefListener[] inlineConfirmListeners() {
        RefListener[] snapshot = listeners.toArray(NO_LISTENERS);
        for (RefListener l : snapshot) {
            if (!CONFIRM_IS_BOOKKEEPING.get(l.getClass())) {
                return null;
            }
        }
        return snapshot;
    }

    private static final RefListener[] NO_LISTENERS = new RefListener[0];

    /** Per listener class: whether its onConfirmed is the no-op default or the Micrometer binder's. */
    private static final ClassValue<Boolean> CONFIRM_IS_BOOKKEEPING = new ClassValue<>() {
        @Override
        protected Boolean computeValue(Class<?> type) {
            try {
                Class<?> declaring = type.getMethod("onConfirmed", RefInfo.class).getDeclaringClass();
                return declaring == RefListener.class || declaring.getName().startsWith("io.percpuref.micrometer.");
            } catch (NoSuchMethodException impossible) {
                return false;
            }
        }
    };

    boolean reclaimLeaks() {
        return reclaimLeaks;
    }

    /** A lease on {@code resource}, in {@code state}, was refused (JFR: sampled, see RegistryEvents). */
    void rejected(String resource, RefState state) {
        rejections.increment();
        RegistryEvents.refused(this, refusalSampler, resource, state);
    }

    void killed(ManagedEntry<?> e) {
        live.decrement();
        dying.increment();
        kills.increment();
        watchForStuck(e);
        RegistryEvents.killed(this, e);
        fire("onKilled", e, RefListener::onKilled);
    }

    void confirmed(ManagedEntry<?> e) {
        RegistryEvents.confirmed(this, e);
        fire("onConfirmed", e, RefListener::onConfirmed);
    }

    /** {@link #confirmed(ManagedEntry)} for an inline confirm: notifies the snapshot it was decided on. */
    void confirmed(ManagedEntry<?> e, RefListener[] snapshot) {
        RegistryEvents.confirmed(this, e);
        fire("onConfirmed", e, Arrays.asList(snapshot), RefListener::onConfirmed);
    }

    void released(ManagedEntry<?> e) {
        entries.remove(e.name(), e);
        dying.decrement();
        releases.increment();
        if (e.settleStuck()) {
            stuck.decrement();
        }
        e.unwatch();
        fire("onReleased", e, RefListener::onReleased);
    }

    void releaseFailed(ManagedEntry<?> e, Throwable failure) {
        releaseFailures.increment();
        reportFailure(e.name(), e.state().name(), "release action threw " + failure, failure);
    }

    void leaked(ManagedEntry<?> e, AcquisitionTrace trace, LeakReport report) {
        leaks.increment();
        if (leakLog.firstAt(Arrays.asList(trace.getStackTrace()))) {
            LOGGER.log(System.Logger.Level.WARNING, "LEAK: a lease of " + e.describe()
                    + " was garbage-collected without close(); acquired by thread '" + report.acquiredBy() + "'; "
                    + (report.reclaimed()
                            ? "its reference was put back (reclaimLeaks)"
                            : "its reference is lost, so the resource cannot be released (see reclaimLeaks)")
                    + ". Further leaks from this acquisition site are only counted (leakCount(), meter "
                    + "percpu.refs.leaks) and summarized at most once a minute", trace);
        } else {
            long unlogged = leakLog.countUnlogged();
            if (unlogged > 0) {
                LOGGER.log(System.Logger.Level.WARNING, "LEAK: " + unlogged + " more lease(s) of registry '" + name
                        + "' garbage-collected without close() since the last summary, from acquisition sites "
                        + "logged before; the latest: a lease of " + e.describe() + "; " + leakCount()
                        + " leaks in total");
            }
        }
        RegistryEvents.leaked(this, report);
        fire("onLeak", e, report, RefListener::onLeak);
    }

    /**
     * The executor of every entry's ref: runs {@code task} on the callback executor, unless this
     * thread is killing entries in {@link #shutdown(Duration)}, which defers it (see Hand-off). If the
     * callback executor rejects the task (throws anything), it is reported and handed off to a
     * registry thread.
     */
    void execute(ManagedEntry<?> e, Runnable task) {
        Deferral deferral = DEFERRAL.get();
        // Our own pool never blocks nor runs user code in this thread: shutdown need not defer for it.
        if (deferral != null && deferral.registry == this && !(deferral.handOff && ownsCallbackExecutor)) {
            deferral.entries.add(e);
            deferral.tasks.add(task);
            return;
        }
        try {
            callbackExecutor.execute(task);
        } catch (Throwable rejected) { // RejectedExecutionException, or anything else: the callback must not be lost
            reportFailure(e.name(), e.state().name(), "callback executor " + callbackExecutor
                    + " rejected a callback (" + rejected + "); running it on a hand-off thread of registry '"
                    + name + "'", rejected);
            handoff.execute(task);
        }
    }

    /**
     * Runs {@code task} on a registry-owned hand-off thread, which passes it to the callback
     * executor (and runs it itself if the executor rejects it). Never runs user code in the calling
     * thread; used by the leak detector and by shutdown().
     */
    void handOff(ManagedEntry<?> e, Runnable task) {
        handoff.execute(() -> {
            try {
                callbackExecutor.execute(task);
            } catch (Throwable rejected) { // as in execute(): the callback must not be lost
                reportFailure(e.name(), e.state().name(), "callback executor " + callbackExecutor
                        + " rejected a callback (" + rejected + "); running it on hand-off thread '"
                        + Thread.currentThread().getName() + "'", rejected);
                task.run();
            }
        });
    }

    /** Receives the problems of the entries' refs (over-puts, rejected callbacks). */
    void reportRefError(PercpuRefException e) {
        LOGGER.log(System.Logger.Level.ERROR, e.getMessage(), e.getCause());
        deliverToReporter(e);
    }

    /** Logs a failure (release action, listener) and hands it to the error reporter, if any. */
    void reportFailure(String refName, String refState, String message, Throwable cause) {
        PercpuRefException e = new PercpuRefException(refName, refState, message, cause);
        LOGGER.log(System.Logger.Level.ERROR, e.getMessage(), cause);
        deliverToReporter(e);
    }

    private void deliverToReporter(PercpuRefException e) {
        Consumer<? super PercpuRefException> reporter = errorReporter;
        if (reporter == null) {
            return;
        }
        try {
            reporter.accept(e);
        } catch (Throwable t) {
            LOGGER.log(System.Logger.Level.ERROR, "the registry's error reporter threw while reporting: "
                    + e.getMessage(), t);
        }
    }

    /** Delivers {@code e}'s current {@link RefInfo} to every listener. */
    private void fire(String event, ManagedEntry<?> e, BiConsumer<RefListener, RefInfo> call) {
        fire(event, e, listeners, call);
    }

    /** {@link #fire(String, ManagedEntry, BiConsumer)} to the listeners {@code to} (a snapshot, say). */
    private void fire(String event, ManagedEntry<?> e, List<RefListener> to, BiConsumer<RefListener, RefInfo> call) {
        if (to.isEmpty()) {
            return;
        }
        RefInfo info = e.info(false);
        for (RefListener l : to) {
            notify(event, e, l, info, call);
        }
    }

    /** Delivers {@code payload} to every listener, each call isolated from the others. */
    private <P> void fire(String event, ManagedEntry<?> e, P payload, BiConsumer<RefListener, P> call) {
        for (RefListener l : listeners) {
            notify(event, e, l, payload, call);
        }
    }

    /** Delivers {@code payload} to one listener; a failure is reported, never passed on (but a VM error). */
    private <P> void notify(String event, ManagedEntry<?> e, RefListener l, P payload, BiConsumer<RefListener, P> call) {
        try {
            call.accept(l, payload);
        } catch (Throwable t) {
            reportFailure(e.name(), e.state().name(), "listener " + l + " threw in " + event + ": " + t, t);
            if (t instanceof VirtualMachineError) {
                throw (VirtualMachineError) t;
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Stuck detection
    // ------------------------------------------------------------------------------------------

    /**
     * Puts a kill under watch (see Stuck in the overview): appends it to {@link #watched} and, if no
     * sweep is pending, schedules one for one threshold from now. No lock, and no wake-up of the
     * detector thread unless its sweep was idle.
     */
    private void watchForStuck(ManagedEntry<?> e) {
        ScheduledThreadPoolExecutor detector = stuckDetector();
        if (detector == null || detector.isShutdown()) {
            return; // shut down: no stuck detection any more, so nothing to watch
        }
        StuckWatch w = new StuckWatch(e, e.killedAt());
        watched.offer(w);
        e.watch(w);
        if (watched.peek() != w) {
            dropReleasedHead(); // keep released kills from piling up behind each other
        }
        if (!sweepPending && SWEEP_PENDING.compareAndSet(this, false, true)) {
            scheduleSweep(detector, stuckThresholdNanos);
        }
    }

    /**
     * Drops released kills from the head of {@link #watched}, a few at most, if no one else is
     * taking from it now. While the oldest kills release first, this keeps the watch about as long
     * as the number of entries dying now. It only looks at the head: behind a kill that stays
     * dying, the records of later kills that released (small, no longer pointing at their
     * resource) stay queued until the sweep reports that kill, at most one threshold
     * ({@code StuckSweepAttackTest.recordsBehindALongDyingKillAreDroppedOnceItIsReported}).
     */
    private void dropReleasedHead() {
        if (!TAKING.compareAndSet(this, false, true)) {
            return; // the sweep or another kill is at it
        }
        try {
            for (int i = 0; i < DROP_PER_KILL; i++) {
                StuckWatch head = watched.peek();
                if (head == null || head.entry != null) {
                    return;
                }
                watched.poll(); // the head we peeked: we are the only taker
            }
        } finally {
            taking = false;
        }
    }

    /** Becomes the one taker from {@link #watched}; waits for a kill dropping a few released heads, or for the sweep. */
    private void takeWatch() {
        while (!TAKING.compareAndSet(this, false, true)) {
            Thread.yield();
        }
    }

    private void scheduleSweep(ScheduledThreadPoolExecutor detector, long delayNanos) {
        try {
            detector.schedule(this::sweepStuck, delayNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException stopped) {
            // shutdown() stopped the detector (and emptied the watch): no stuck detection any more
        } catch (Throwable t) {
            sweepPending = false; // no sweep is pending after all: the next kill schedules one
            throw t;
        }
    }

    /**
     * The one pending sweep, on the detector thread: reports every watched kill whose threshold has
     * passed and is still dying, drops the released ones, then schedules itself for the new head's
     * deadline, or stands down when nothing is watched. Standing down clears {@link #sweepPending}
     * and then looks again: a kill that appended after the sweep found the watch empty but saw the
     * flag still set scheduled nothing, so the sweep takes the flag back and carries on for it.
     */
    private void sweepStuck() {
        boolean rescheduled = false;
        try {
            for (;;) {
                long wait = reportExpired();
                ScheduledThreadPoolExecutor detector = stuckDetector;
                if (wait > 0) {
                    if (detector != null) {
                        scheduleSweep(detector, wait);
                    }
                    rescheduled = true;
                    return;
                }
                Runnable hook = afterSweepFoundNothing;
                if (hook != null) {
                    hook.run();
                }
                sweepPending = false;
                if (watched.isEmpty() || !SWEEP_PENDING.compareAndSet(this, false, true)) {
                    rescheduled = true;
                    return; // nothing watched, or a kill scheduled the next sweep itself
                }
            }
        } finally {
            if (!rescheduled) {
                // A listener threw a VM error: the flag is still ours, so carry on in a fresh run.
                ScheduledThreadPoolExecutor detector = stuckDetector;
                if (detector != null) {
                    scheduleSweep(detector, 0);
                }
            }
        }
    }

    /**
     * Takes the watched kills whose threshold has passed off the head and reports those still dying,
     * one at a time, each outside {@link #taking} (listeners are user code: a slow one must not hold
     * up the kills or shutdown() waiting to take from the watch).
     * @return 0 if the watch is empty, else the nanoseconds until the new head's threshold passes
     */
    private long reportExpired() {
        for (;;) {
            ManagedEntry<?> due;
            takeWatch();
            try {
                StuckWatch head = watched.peek();
                if (head == null) {
                    return 0;
                }
                due = head.entry;
                if (due != null) {
                    long left = head.killedAt + stuckThresholdNanos - System.nanoTime();
                    if (left > 0) {
                        return left;
                    }
                    head.entry = null;
                }
                watched.poll(); // the head we peeked: we are the only taker
            } finally {
                taking = false;
            }
            if (due != null) {
                checkStuck(due);
            }
        }
    }

    /** Reports {@code e} stuck, unless it was released (or reported) meanwhile. */
    private void checkStuck(ManagedEntry<?> e) {
        if (!e.markStuck()) {
            return; // released (or already reported) meanwhile
        }
        stuck.increment();
        RefInfo info = e.info(); // with its open leases: who holds it
        // The tracked open leases (sampled, or since the kill), unreclaimed leaks and untracked ones.
        String holders = info.openLeases().map(open -> "; held by:\n" + open).orElse("");
        LOGGER.log(System.Logger.Level.WARNING, "resource '" + info.name() + "' [" + info.state()
                + "] is stuck: dying for " + info.dyingFor() + " (threshold " + stuckThreshold + ") with "
                + info.inFlight() + " lease(s) in flight" + holders);
        RegistryEvents.stuck(this, info);
        fire("onStuck", e, info, RefListener::onStuck);
    }

    private ScheduledThreadPoolExecutor stuckDetector() {
        ScheduledThreadPoolExecutor d = stuckDetector;
        if (d != null) {
            return d;
        }
        detectorLock.lock();
        try {
            if (stuckDetector == null && !detectorStopped) {
                stuckDetector = newStuckDetector(threadPrefix());
            }
            return stuckDetector;
        } finally {
            detectorLock.unlock();
        }
    }

    private void stopStuckDetector() {
        ScheduledThreadPoolExecutor d;
        detectorLock.lock();
        try {
            detectorStopped = true;
            d = stuckDetector;
        } finally {
            detectorLock.unlock();
        }
        if (d != null) {
            d.shutdownNow();
        }
        takeWatch(); // a sweep still running holds it only between two records, never across a listener
        try {
            watched.clear(); // no sweep any more: keep nothing
        } finally {
            taking = false;
        }
    }

    /** Tasks queued in the stuck detector (at most one: the pending sweep); for tests. */
    int pendingStuckChecks() {
        ScheduledThreadPoolExecutor d = stuckDetector;
        return d == null ? 0 : d.getQueue().size();
    }

    /** Kills under watch, released ones not yet dropped included; for tests. */
    int watchedKills() {
        return watched.size();
    }

    /** Runs {@code hook} on the detector thread each time a sweep found the watch empty, before it stands down; for tests. */
    void afterSweepFoundNothing(Runnable hook) {
        afterSweepFoundNothing = hook;
    }

    /** Whether this registry's stuck-detector thread exists and has not terminated; for tests. */
    boolean stuckDetectorAlive() {
        ScheduledThreadPoolExecutor d = stuckDetector;
        return d != null && !d.isTerminated();
    }

    private static ScheduledThreadPoolExecutor newStuckDetector(String prefix) {
        ScheduledThreadPoolExecutor d = new ScheduledThreadPoolExecutor(1,
                daemonThreads(prefix + "-stuck-detector", false));
        d.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        // A registry dropped without shutdown() must not leave its thread behind forever.
        d.setKeepAliveTime(IDLE_THREAD_SECONDS, TimeUnit.SECONDS);
        d.allowCoreThreadTimeOut(true);
        return d;
    }

    /** For example {@code percpu-ref-default-3}: the registry's name plus a number unique in the process. */
    private String threadPrefix() {
        return "percpu-ref-" + name + "-" + id;
    }

    private static Executor defaultCallbackExecutor(String prefix) {
        return new ThreadPoolExecutor(0, Integer.MAX_VALUE, IDLE_THREAD_SECONDS, TimeUnit.SECONDS,
                new SynchronousQueue<>(), daemonThreads(prefix + "-callback", true));
    }

    private static ThreadPoolExecutor handoffPool(String prefix) {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(HANDOFF_THREADS, HANDOFF_THREADS, IDLE_THREAD_SECONDS,
                TimeUnit.SECONDS, new LinkedBlockingQueue<>(), daemonThreads(prefix + "-handoff", true));
        pool.allowCoreThreadTimeOut(true); // no thread until there is work, none left when idle
        return pool;
    }

    /**
     * One kill under watch for stuck detection. The entry is cleared when it is released (or
     * reported), so a released resource is not kept reachable by the watch: what stays, until the
     * sweep or a later kill drops it, is this small record.
     */
    static final class StuckWatch {
        /** The killed entry; null once released or reported. */
        volatile ManagedEntry<?> entry;
        /** nanoTime of the kill. */
        final long killedAt;

        StuckWatch(ManagedEntry<?> entry, long killedAt) {
            this.entry = entry;
            this.killedAt = killedAt;
        }
    }

    /** Callbacks collected by {@link #withDeferredCallbacks} on one thread (see Hand-off). */
    private static final class Deferral {
        final RefRegistry registry;
        /** Pass the callbacks to hand-off threads (shutdown) rather than to the callback executor (kill). */
        final boolean handOff;
        /** The entry of each task, for error reports. */
        final List<ManagedEntry<?>> entries = new ArrayList<>();
        final List<Runnable> tasks = new ArrayList<>();

        Deferral(RefRegistry registry, boolean handOff) {
            this.registry = registry;
            this.handOff = handOff;
        }
    }

    private static ThreadFactory daemonThreads(String name, boolean numbered) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, numbered ? name + "-" + n.incrementAndGet() : name);
            t.setDaemon(true);
            return t;
        };
    }

    /** For example {@code RefRegistry[live=3, dying=1, stuck=0, leakDetection=SIMPLE]}. */
    @Override
    public String toString() {
        return "RefRegistry[live=" + liveCount() + ", dying=" + dyingCount() + ", stuck=" + stuckCount()
                + ", leakDetection=" + leakDetection() + (shutdown ? ", shut down]" : "]");
    }

    // ------------------------------------------------------------------------------------------
    // Builder
    // ------------------------------------------------------------------------------------------

    /**
     * Configures a {@link RefRegistry}. Every option has a default; a builder may be reused.
     */
    public static final class Builder {
        private String name = "default";
        private Executor callbackExecutor;
        private LeakDetection leakDetection = LeakDetection.SIMPLE;
        private int leakSamplingInterval = 128;
        private boolean reclaimLeaks;
        private Duration stuckThreshold = Duration.ofSeconds(60);
        private Duration shutdownTimeout = Duration.ofSeconds(30);
        private Consumer<? super PercpuRefException> errorReporter;

        private Builder() {
        }

        /**
         * The registry's identity: {@code io.percpuref.micrometer.PercpuRefMetrics} tags every meter with
         * {@code registry}=this name, and thread and log names include it. Give each registry
         * of a process its own name. Default {@code "default"}.
         *
         * @throws NullPointerException     if {@code name} is null
         * @throws IllegalArgumentException if {@code name} is blank
         */
        public Builder name(String name) {
            Objects.requireNonNull(name, "name");
            if (name.isBlank()) {
                throw new IllegalArgumentException("registry name must not be blank, was '" + name + "'");
            }
            this.name = name;
            return this;
        }

        /**
         * Where confirm and release callbacks, release actions and leak handling run. Default: a
         * cached pool of daemon threads owned by the registry (idle threads exit after 10 seconds),
         * so that a release action that blocks delays only its own resource.
         *
         * <p>The executor is never called from the process-wide leak-detector thread nor from a
         * thread in {@link RefRegistry#shutdown(Duration)}: that work first goes to a few hand-off
         * threads owned by this registry, which then call the executor. So with a direct executor
         * ({@code Runnable::run}) leak handling and the releases that shutdown triggers run on those
         * hand-off threads (a blocking release action occupies one of them and can delay this
         * registry's leak handling, never another registry's), and everything else runs in the
         * thread that triggers it (for example the thread closing the last lease). If the executor
         * rejects a task (throws), the rejection is reported and the task runs on a hand-off thread.
         *
         * @throws NullPointerException if {@code executor} is null
         */
        public Builder callbackExecutor(Executor executor) {
            this.callbackExecutor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /**
         * Which leases to track for leak detection. Default {@link LeakDetection#SIMPLE}.
         *
         * @throws NullPointerException if {@code leakDetection} is null
         */
        public Builder leakDetection(LeakDetection leakDetection) {
            this.leakDetection = Objects.requireNonNull(leakDetection, "leakDetection");
            return this;
        }

        /**
         * With {@link LeakDetection#SIMPLE}, track one lease in {@code interval}, chosen at random.
         * Default 128.
         *
         * @throws IllegalArgumentException if {@code interval < 1}
         */
        public Builder leakSamplingInterval(int interval) {
            if (interval < 1) {
                throw new IllegalArgumentException("leak sampling interval must be at least 1, was " + interval);
            }
            this.leakSamplingInterval = interval;
            return this;
        }

        /**
         * Whether to put back the reference of a tracked lease that leaked, so that a leak cannot
         * keep a resource from being released (and block shutdown) forever. Default false: the leak
         * is reported and the resource stays dying, which shows the bug instead of hiding it.
         */
        public Builder reclaimLeaks(boolean reclaim) {
            this.reclaimLeaks = reclaim;
            return this;
        }

        /**
         * A resource dying longer than this is reported once through {@link RefListener#onStuck}
         * and counted in {@link RefRegistry#stuckCount()}. Default 60 seconds.
         *
         * @throws NullPointerException     if {@code threshold} is null
         * @throws IllegalArgumentException if {@code threshold} is zero or negative
         */
        public Builder stuckThreshold(Duration threshold) {
            Objects.requireNonNull(threshold, "threshold");
            if (threshold.isZero() || threshold.isNegative()) {
                throw new IllegalArgumentException("stuck threshold must be positive, was " + threshold);
            }
            this.stuckThreshold = threshold;
            return this;
        }

        /**
         * How long {@link RefRegistry#close()} waits for the resources to be released. Default 30
         * seconds. ({@link RefRegistry#shutdown(Duration)} takes its own timeout.)
         *
         * @throws NullPointerException     if {@code timeout} is null
         * @throws IllegalArgumentException if {@code timeout} is negative
         */
        public Builder shutdownTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("shutdown timeout must not be negative, was " + timeout);
            }
            this.shutdownTimeout = timeout;
            return this;
        }

        /**
         * Also hand every failure (a release action or listener that threw, a rejected callback, an
         * over-put detected by a resource's ref) to {@code reporter}. Failures are always logged
         * through {@link System.Logger} at {@code ERROR} as well.
         *
         * @throws NullPointerException if {@code reporter} is null
         */
        public Builder errorReporter(Consumer<? super PercpuRefException> reporter) {
            this.errorReporter = Objects.requireNonNull(reporter, "reporter");
            return this;
        }

        /** Builds a new, empty registry. */
        public RefRegistry build() {
            return new RefRegistry(this);
        }
    }
}
