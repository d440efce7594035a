package io.percpuref.micrometer;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefListener;
import io.percpuref.registry.RefRegistry;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.ToDoubleFunction;

/**
 * Exposes a {@link RefRegistry} to Micrometer.
 *
 * <table>
 *   <caption>Meters (Prometheus names in parentheses); every one also tagged {@code registry}=name</caption>
 *   <tr><th>meter</th><th>type</th><th>tags</th><th>meaning</th></tr>
 *   <tr><td>{@code percpu.refs} ({@code percpu_refs})</td><td>gauge</td><td>{@code state}={@code live}/{@code dying}</td>
 *       <td>registered refs in each state</td></tr>
 *   <tr><td>{@code percpu.refs.stuck}</td><td>gauge</td><td></td><td>refs dying longer than the stuck threshold</td></tr>
 *   <tr><td>{@code percpu.refs.kills} ({@code percpu_refs_kills_total})</td><td>counter</td><td></td><td>kills</td></tr>
 *   <tr><td>{@code percpu.refs.releases}</td><td>counter</td><td></td><td>releases</td></tr>
 *   <tr><td>{@code percpu.refs.rejections}</td><td>counter</td><td></td><td>refused acquires on dying or released refs</td></tr>
 *   <tr><td>{@code percpu.refs.leaks}</td><td>counter</td><td></td><td>leaked leases detected</td></tr>
 *   <tr><td>{@code percpu.refs.release.failures}</td><td>counter</td><td></td><td>release actions that threw</td></tr>
 *   <tr><td>{@code percpu.refs.confirm.latency}</td><td>timer</td><td></td><td>kill to confirm</td></tr>
 *   <tr><td>{@code percpu.refs.drain.latency}</td><td>timer</td><td></td><td>kill to release</td></tr>
 *   <tr><td>{@code percpu.refs.in.flight}</td><td>gauge</td><td>{@code ref}=name</td>
 *       <td>approximate outstanding references; only with {@link Options#perRefMetrics(boolean)}</td></tr>
 * </table>
 *
 * <p>Cost: the gauges and counters are function-based, reading the registry's own striped counters
 * at scrape time, so the registry's paths pay nothing for them; the timers are fed by a
 * {@link RefListener} (one record per confirm and per release). Leases are never observed.
 *
 * <p>Per-ref gauges follow the registry: one is added when a ref is registered (or, for refs that
 * exist already, when the binder is bound) and removed when the ref is released, so a released ref
 * leaves no stale series. They are off by default because their cardinality is the number of refs.
 *
 * <p>Identity: every meter is tagged {@code registry}={@link RefRegistry#name()}, so several
 * registries can be bound to one meter registry, each with its own series (their per-ref gauges
 * of equal ref names included). Two registries of the same name cannot share a meter registry:
 * the second {@link #bindTo} throws. Common tags (application, instance) come from the user's meter
 * registry configuration; {@link Options#tags(Iterable)} adds more.
 *
 * <p>Lifecycle: {@link #close()} removes every meter this binder registered, in every meter
 * registry it was bound to, and its listeners from the ref registry; a closed binder cannot be
 * bound again.
 */
public class PercpuRefMetrics implements MeterBinder, AutoCloseable {

    /** Gauge of registered refs, tagged {@code state}. */
    public static final String REFS = "percpu.refs";
    /** Gauge of refs dying longer than the stuck threshold. */
    public static final String STUCK = "percpu.refs.stuck";
    /** Counter of kills. */
    public static final String KILLS = "percpu.refs.kills";
    /** Counter of releases. */
    public static final String RELEASES = "percpu.refs.releases";
    /** Counter of refused acquires. */
    public static final String REJECTIONS = "percpu.refs.rejections";
    /** Counter of leaked leases. */
    public static final String LEAKS = "percpu.refs.leaks";
    /** Counter of release actions that threw. */
    public static final String RELEASE_FAILURES = "percpu.refs.release.failures";
    /** Timer from kill to confirm. */
    public static final String CONFIRM_LATENCY = "percpu.refs.confirm.latency";
    /** Timer from kill to release. */
    public static final String DRAIN_LATENCY = "percpu.refs.drain.latency";
    /** Per-ref gauge of outstanding references, tagged {@code ref}. */
    public static final String IN_FLIGHT = "percpu.refs.in.flight";
    /** The tag on every meter that names the {@link RefRegistry} ({@link RefRegistry#name()}). */
    public static final String REGISTRY_TAG = "registry";

    private final RefRegistry registry;
    private final Options options;
    /** Guards {@link #bindings} and {@link #closed} (bind and close are rare; nothing hot takes it). */
    private final ReentrantLock lock = new ReentrantLock();
    /** What this binder registered per meter registry (by identity), so that a repeated bind records nothing twice. */
    private final Map<MeterRegistry, Binding> bindings = new IdentityHashMap<>();
    /** Set by {@link #close()}. Guarded by {@link #lock}. */
    private boolean closed;

    /**
     * Binds the registry-wide meters only (no per-ref gauges).
     *
     * @throws NullPointerException if {@code registry} is null
     */
    public PercpuRefMetrics(RefRegistry registry) {
        this(registry, Options.defaults());
    }

    /**
     * Binds the registry-wide meters, plus per-ref {@code percpu.refs.in.flight} gauges if
     * {@code options} enables them, with the options' extra tags on every meter.
     *
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if the options' tags include {@code registry} (that tag is the
     *                                  registry's name, set with {@code RefRegistry.builder().name(...)})
     */
    public PercpuRefMetrics(RefRegistry registry, Options options) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.options = Objects.requireNonNull(options, "options");
        for (Tag t : options.tags()) {
            if (t.getKey().equals(REGISTRY_TAG)) {
                throw new IllegalArgumentException("PercpuRefMetrics of registry '" + registry.name() + "': the tag '"
                        + REGISTRY_TAG + "' is the registry's name and cannot be set in the options (was '"
                        + t.getValue() + "'); name the registry with RefRegistry.builder().name(...)");
            }
        }
    }

    /**
     * Registers the meters in {@code meters} and starts feeding its timers and per-ref gauges.
     * Binding again to the same meter registry does nothing.
     *
     * @throws IllegalStateException if this binder is closed, or if {@code meters} already has the
     *                               meters of another registry with the same name (give each registry
     *                               its own {@link RefRegistry.Builder#name(String) name}); nothing is
     *                               registered then
     */
    @Override
    public void bindTo(MeterRegistry meters) {
        Objects.requireNonNull(meters, "meters");
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("PercpuRefMetrics of registry '" + registry.name()
                        + "' is closed: it cannot be bound again");
            }
            if (!bindings.containsKey(meters)) {
                bindings.put(meters, bind(meters));
            }
        } finally {
            lock.unlock();
        }
    }

    private Binding bind(MeterRegistry meters) {
        Tags tags = Tags.of(REGISTRY_TAG, registry.name()).and(options.tags());
        List<Meter> registered = new ArrayList<>();
        // Micrometer hands back an existing meter of the same id instead of registering ours: if the
        // first one is not new, another registry of this name is bound there, and would be read instead.
        List<Gauge> existing = List.copyOf(meters.find(REFS).tags(tags).tag("state", "live").gauges());
        Gauge live = gauge(meters, REFS, RefRegistry::liveCount, tags.and("state", "live"),
                "Registered percpu refs by state: live (handing out leases) or dying (killed, leases outstanding, "
                        + "or release action running)");
        if (existing.stream().anyMatch(g -> g == live)) {
            throw new IllegalStateException("cannot bind RefRegistry '" + registry.name() + "' to " + meters
                    + ": it already has the meters of a registry named '" + registry.name()
                    + "'; give each registry its own name with RefRegistry.builder().name(...)");
        }
        registered.add(live);
        registered.add(gauge(meters, REFS, RefRegistry::dyingCount, tags.and("state", "dying"),
                "Registered percpu refs by state: live (handing out leases) or dying (killed, leases outstanding, "
                        + "or release action running)"));
        registered.add(gauge(meters, STUCK, RefRegistry::stuckCount, tags,
                "Percpu refs dying longer than the registry's stuck threshold"));
        registered.add(counter(meters, KILLS, RefRegistry::killCount, tags, "Percpu refs killed (LIVE to DYING)"));
        registered.add(counter(meters, RELEASES, RefRegistry::releaseCount, tags,
                "Percpu refs released (last lease closed, release action ran)"));
        registered.add(counter(meters, REJECTIONS, RefRegistry::rejectionCount, tags,
                "Lease requests refused because the ref was dying or released"));
        registered.add(counter(meters, LEAKS, RefRegistry::leakCount, tags,
                "Tracked leases garbage-collected without being closed"));
        registered.add(counter(meters, RELEASE_FAILURES, RefRegistry::releaseFailureCount, tags,
                "Release actions that threw (the ref still counts as released)"));
        Timer confirm = Timer.builder(CONFIRM_LATENCY).tags(tags)
                .description("Time from a percpu ref's kill to the confirmation of the kill")
                .register(meters);
        Timer drain = Timer.builder(DRAIN_LATENCY).tags(tags)
                .description("Time from a percpu ref's kill to its release (last lease closed, release action ran)")
                .register(meters);
        registered.add(confirm);
        registered.add(drain);
        PerRefGauges perRef = options.perRefMetrics() ? new PerRefGauges(registry, meters, tags) : null;
        Recorder recorder = new Recorder(confirm, drain, perRef);
        registry.addListener(recorder);
        if (perRef != null) {
            // After addListener: a ref registered meanwhile is reconciled by its event, and twice is harmless.
            for (RefInfo info : registry.snapshot()) {
                perRef.reconcile(info.name());
            }
        }
        return new Binding(registered, recorder, perRef);
    }

    /**
     * Removes every meter this binder registered from every meter registry it was bound to, and
     * stops listening to the ref registry. Idempotent. Afterwards {@link #bindTo} throws.
     */
    @Override
    public void close() {
        List<Map.Entry<MeterRegistry, Binding>> bound;
        lock.lock();
        try {
            closed = true;
            bound = new ArrayList<>(bindings.entrySet());
            bindings.clear();
        } finally {
            lock.unlock();
        }
        for (Map.Entry<MeterRegistry, Binding> b : bound) {
            Binding binding = b.getValue();
            registry.removeListener(binding.recorder);
            if (binding.perRef != null) {
                binding.perRef.close();
            }
            binding.meters.forEach(b.getKey()::remove);
        }
    }

    private Gauge gauge(MeterRegistry meters, String name, ToDoubleFunction<RefRegistry> value, Tags tags,
                        String description) {
        return Gauge.builder(name, registry, value).tags(tags).description(description).register(meters);
    }

    private FunctionCounter counter(MeterRegistry meters, String name, ToDoubleFunction<RefRegistry> value, Tags tags,
                                    String description) {
        return FunctionCounter.builder(name, registry, value).tags(tags).description(description).register(meters);
    }

    /** What one {@link #bindTo} registered: removed again by {@link #close()}. */
    private record Binding(List<Meter> meters, Recorder recorder, PerRefGauges perRef) {
    }

    /** Feeds the timers and keeps the per-ref gauges in step with the registry. */
    private static final class Recorder implements RefListener {
        private final Timer confirm;
        private final Timer drain;
        private final PerRefGauges perRef;

        Recorder(Timer confirm, Timer drain, PerRefGauges perRef) {
            this.confirm = confirm;
            this.drain = drain;
            this.perRef = perRef;
        }

        @Override
        public void onRegistered(RefInfo info) {
            if (perRef != null) {
                perRef.reconcile(info.name());
            }
        }

        @Override
        public void onConfirmed(RefInfo info) {
            confirm.record(info.dyingFor());
        }

        @Override
        public void onReleased(RefInfo info) {
            drain.record(info.dyingFor());
            if (perRef != null) {
                perRef.reconcile(info.name());
            }
        }

        @Override
        public String toString() {
            return "PercpuRefMetrics.Recorder";
        }
    }

    /**
     * One {@code percpu.refs.in.flight} gauge per registered ref name.
     *
     * <p>{@link #reconcile(String)} makes the gauge for a name match what the registry holds under it
     * now: none if nothing (or once closed), else one reading that entry. It runs inside
     * {@code compute} on the name, so events for one name are applied one at a time; and every
     * registration or release is followed by a reconcile of its name, run after the registry's map
     * changed, so the last reconcile of a name always sees its final state. A released ref's gauge
     * is therefore removed, even when a new ref of the same name is registered concurrently.
     *
     * <p>{@link #close()} sets {@link #closed} and then reconciles every name it finds; a reconcile
     * that raced it re-checks {@link #closed} after its compute. Either close() finds the name (the
     * compute finished before its iteration) or the reconcile sees the flag, so no gauge survives.
     */
    private static final class PerRefGauges {
        private final RefRegistry registry;
        private final MeterRegistry meters;
        private final Tags tags;
        /** The gauge registered for each name, with the entry it reads. */
        private final ConcurrentHashMap<String, Bound> gauges = new ConcurrentHashMap<>();
        /** Set once by {@link #close()}: every gauge goes, none is added. */
        private volatile boolean closed;

        PerRefGauges(RefRegistry registry, MeterRegistry meters, Tags tags) {
            this.registry = registry;
            this.meters = meters;
            this.tags = tags;
        }

        void reconcile(String name) {
            gauges.compute(name, this::reconciled);
            if (closed) {
                gauges.compute(name, this::reconciled);
            }
        }

        void close() {
            closed = true;
            for (String name : gauges.keySet()) {
                gauges.compute(name, this::reconciled);
            }
        }

        private Bound reconciled(String name, Bound bound) {
            ManagedResource<?> current = closed ? null : registry.find(name).orElse(null);
            if (bound != null && bound.resource == current) {
                return bound;
            }
            if (bound != null) {
                meters.remove(bound.gauge);
            }
            if (current == null) {
                return null;
            }
            Gauge gauge = Gauge.builder(IN_FLIGHT, current, r -> r.info().inFlight())
                    .tags(tags).tag("ref", name)
                    .description("Approximate outstanding references (leases) of one percpu ref")
                    .register(meters);
            return new Bound(current, gauge);
        }

        private record Bound(ManagedResource<?> resource, Gauge gauge) {
        }
    }

    /**
     * Options for {@link PercpuRefMetrics}: immutable; each method returns a modified copy.
     *
     * <pre>{@code
     * new PercpuRefMetrics(registry, PercpuRefMetrics.Options.defaults()
     *         .perRefMetrics(true)
     *         .tags(Tags.of("pool", "aio")));
     * }</pre>
     */
    public static final class Options {

        private static final Options DEFAULTS = new Options(false, Tags.empty());

        private final boolean perRefMetrics;
        private final Tags tags;

        private Options(boolean perRefMetrics, Tags tags) {
            this.perRefMetrics = perRefMetrics;
            this.tags = tags;
        }

        /** No per-ref gauges, no extra tags. */
        public static Options defaults() {
            return DEFAULTS;
        }

        /**
         * Whether to publish a {@code percpu.refs.in.flight} gauge per ref, tagged {@code ref}=name.
         * One series per registered ref: enable it only when refs are few or long-lived.
         */
        public Options perRefMetrics(boolean enabled) {
            return new Options(enabled, tags);
        }

        /**
         * Extra tags for every meter, added to any already configured here.
         *
         * @throws NullPointerException if {@code extraTags} is null
         */
        public Options tags(Iterable<Tag> extraTags) {
            return new Options(perRefMetrics, tags.and(Objects.requireNonNull(extraTags, "extraTags")));
        }

        /** Whether per-ref gauges are enabled. */
        public boolean perRefMetrics() {
            return perRefMetrics;
        }

        /** The extra tags for every meter. */
        public Tags tags() {
            return tags;
        }
    }
}
