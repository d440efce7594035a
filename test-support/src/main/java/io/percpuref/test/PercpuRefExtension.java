package io.percpuref.test;

import io.percpuref.registry.LeaseHolder;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.OpenLeases;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.ShutdownReport;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * A JUnit Jupiter extension that fails a test which leaves a lease open, naming the resource, the
 * thread that acquired the lease and where. Register it on a field:
 *
 * <pre>{@code
 * class ChannelTest {
 *
 *     @RegisterExtension
 *     final PercpuRefExtension refs = PercpuRefExtension.freshRegistry();
 *
 *     @Test
 *     void sends() {
 *         ManagedResource<Channel> channel = refs.registry().register("channel", new Channel(), Channel::close);
 *         try (Lease<Channel> lease = channel.acquire()) {
 *             lease.resource().send("ping");
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p>Or declaratively, {@code @ExtendWith(PercpuRefExtension.class)} on the class, taking the
 * registry as a {@code RefRegistry} parameter.
 *
 * <p>Two modes:
 * <ul>
 *   <li>{@link #freshRegistry()}: each test gets a new {@link RefRegistry} (named {@code "test"},
 *   {@link LeakDetection#PARANOID} so that every open lease is reported with its thread and
 *   acquisition site), available from {@link #registry()} or as a {@code RefRegistry} parameter
 *   of the test method. After the test the extension checks for open leases, then shuts the
 *   registry down.</li>
 *   <li>{@link #watching(RefRegistry)}: the extension watches a registry you own and never shuts it
 *   down. It notes how many leases each resource has open before the test and fails the test if a
 *   resource has more at its end; the holders shown are the tracked leases acquired during the
 *   test.</li>
 * </ul>
 *
 * <p>The check uses {@link RefRegistry#openLeases()}: deterministic, no garbage collection
 * involved, and a leaked lease (one that became garbage without {@code close()}) still counts as
 * open. By default it runs the moment the test method returns; for leases closed by asynchronous
 * work (completion handlers, other threads) give a grace period with
 * {@link #awaitingClose(Duration)}. If the test already failed, the leak failure is added to it as a
 * suppressed exception (JUnit's rule for failures in after-each callbacks).
 *
 * <p>Instances are immutable; {@link #awaitingClose(Duration)} and
 * {@link #shutdownTimeout(Duration)} return configured copies. One instance may serve tests that
 * run in parallel: the state of each test is kept in its {@link ExtensionContext}, and
 * {@link #registry()} returns the registry of the test running on the calling thread.
 */
public final class PercpuRefExtension implements BeforeEachCallback, AfterEachCallback, ParameterResolver {

    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(PercpuRefExtension.class);
    private static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(10);
    /** How often the grace period re-reads the open leases. */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

    /** Configures each fresh registry; null when watching. */
    private final Consumer<? super RefRegistry.Builder> configure;
    /** The watched registry; null for fresh registries. */
    private final RefRegistry watched;
    /** How long open leases get to close after the test before it fails. */
    private final Duration closeGrace;
    /** How long the shutdown of a fresh registry waits for its releases. */
    private final Duration shutdownTimeout;
    /** The registry of the test running on each thread (fresh mode); for {@link #registry()}. */
    private final ThreadLocal<RefRegistry> current = new ThreadLocal<>();

    /**
     * For {@code @ExtendWith(PercpuRefExtension.class)}: the same as {@link #freshRegistry()}, each
     * test taking its registry as a {@code RefRegistry} parameter (of the test method, or of a
     * {@code @BeforeEach} method). Prefer a {@code @RegisterExtension} field to configure it.
     */
    public PercpuRefExtension() {
        this(builder -> { }, null, Duration.ZERO, DEFAULT_SHUTDOWN_TIMEOUT);
    }

    private PercpuRefExtension(Consumer<? super RefRegistry.Builder> configure, RefRegistry watched,
                               Duration closeGrace, Duration shutdownTimeout) {
        this.configure = configure;
        this.watched = watched;
        this.closeGrace = closeGrace;
        this.shutdownTimeout = shutdownTimeout;
    }

    /**
     * Gives each test a new registry named {@code "test"} with {@link LeakDetection#PARANOID} leak
     * detection (every lease tracked, so a failure names the thread and acquisition site of each
     * open lease) and the other {@link RefRegistry.Builder} defaults.
     */
    public static PercpuRefExtension freshRegistry() {
        return freshRegistry(builder -> { });
    }

    /**
     * Gives each test a new registry: the builder starts named {@code "test"} with
     * {@link LeakDetection#PARANOID}, then {@code configure} may change anything (for example
     * {@code b -> b.callbackExecutor(Runnable::run)} to run release actions in the thread that
     * closes the last lease). With less than {@code PARANOID} a failure still counts every open
     * lease exactly but names only the tracked ones.
     *
     * @throws NullPointerException if {@code configure} is null
     */
    public static PercpuRefExtension freshRegistry(Consumer<? super RefRegistry.Builder> configure) {
        return new PercpuRefExtension(Objects.requireNonNull(configure, "configure"), null, Duration.ZERO,
                DEFAULT_SHUTDOWN_TIMEOUT);
    }

    /**
     * Watches {@code registry}, which the caller owns: a test fails if, at its end, a resource of it
     * has more open leases than before the test. The registry is never shut down by the extension.
     * Build it with {@link LeakDetection#PARANOID} for failures that name every lease's thread and
     * acquisition site.
     *
     * @throws NullPointerException if {@code registry} is null
     */
    public static PercpuRefExtension watching(RefRegistry registry) {
        return new PercpuRefExtension(null, Objects.requireNonNull(registry, "registry"), Duration.ZERO,
                DEFAULT_SHUTDOWN_TIMEOUT);
    }

    /**
     * A copy that, when leases are open at the end of a test, waits up to {@code grace} for them to
     * be closed (by asynchronous work still finishing) before it fails the test. A test that closes
     * everything passes at once; only a failing one waits the whole grace period. Default
     * {@link Duration#ZERO}: the check is made the moment the test returns.
     *
     * @throws NullPointerException     if {@code grace} is null
     * @throws IllegalArgumentException if {@code grace} is negative
     */
    public PercpuRefExtension awaitingClose(Duration grace) {
        Objects.requireNonNull(grace, "grace");
        if (grace.isNegative()) {
            throw new IllegalArgumentException("close grace period must not be negative, was " + grace);
        }
        return new PercpuRefExtension(configure, watched, grace, shutdownTimeout);
    }

    /**
     * A copy whose fresh registries, after a test with no open lease, are shut down with this timeout
     * ({@link RefRegistry#shutdown(Duration)}); the test fails if a resource is then still not
     * released (its release action blocked). Default 10 seconds. After a test that left leases open
     * the registry is shut down without waiting. Not used when watching.
     *
     * @throws NullPointerException     if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public PercpuRefExtension shutdownTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("shutdown timeout must not be negative, was " + timeout);
        }
        return new PercpuRefExtension(configure, watched, closeGrace, timeout);
    }

    /**
     * The registry of the test running on the calling thread: the fresh one of this test, or the
     * watched one.
     *
     * @throws IllegalStateException in fresh-registry mode, if called outside a test (before the
     *                               extension's before-each callback or after its after-each
     *                               callback, or from a thread the test started: pass the registry
     *                               to such threads)
     */
    public RefRegistry registry() {
        if (watched != null) {
            return watched;
        }
        RefRegistry r = current.get();
        if (r == null) {
            throw new IllegalStateException("PercpuRefExtension has no registry on thread '"
                    + Thread.currentThread().getName() + "': registry() is available in a test (and its"
                    + " @BeforeEach/@AfterEach methods) on the test's thread, not before or after it");
        }
        return r;
    }

    /**
     * Before each test: builds the test's fresh registry (and binds it to this thread for
     * {@link #registry()}), or notes how many leases each resource of the watched registry has open.
     */
    @Override
    public void beforeEach(ExtensionContext context) {
        RefRegistry registry;
        if (watched != null) {
            registry = watched;
        } else {
            RefRegistry.Builder builder = RefRegistry.builder().name("test").leakDetection(LeakDetection.PARANOID);
            configure.accept(builder);
            registry = builder.build();
            current.set(registry);
        }
        context.getStore(NAMESPACE).put(TestState.class, new TestState(registry, baseline(registry), System.nanoTime()));
    }

    /**
     * After each test (and after its {@code @AfterEach} methods): waits up to the
     * {@link #awaitingClose(Duration) grace period} for leases opened during the test to close, shuts
     * a fresh registry down, then fails the test if such a lease is still open or a fresh registry's
     * resource was not released within the {@link #shutdownTimeout(Duration) shutdown timeout}.
     *
     * @throws AssertionError naming each resource with open leases, their count, and for every
     *                        tracked one the acquiring thread, how long it was held and where it was
     *                        acquired; or naming the registry and its shutdown report
     */
    @Override
    public void afterEach(ExtensionContext context) {
        TestState state = context.getStore(NAMESPACE).remove(TestState.class, TestState.class);
        if (state == null) {
            return; // beforeEach did not run (an earlier extension failed)
        }
        current.remove();
        List<OpenLeases> open = awaitNoneOpenedLeftOpen(state);
        ShutdownReport report = null;
        if (watched == null) {
            report = state.registry.shutdown(open.isEmpty() ? shutdownTimeout : Duration.ZERO);
        }
        if (!open.isEmpty()) {
            throw new AssertionError(leakMessage(state.registry, open));
        }
        if (report != null && !report.stragglers().isEmpty()) {
            throw new AssertionError("PercpuRefExtension: registry '" + state.registry.name()
                    + "' was not shut down within " + shutdownTimeout + " after the test: " + report);
        }
    }

    /** Resolves test method parameters of type {@link RefRegistry}: the test's registry. */
    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return parameterContext.getParameter().getType() == RefRegistry.class;
    }

    /** The registry of the test: its fresh one, or the watched one. */
    @Override
    public Object resolveParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        TestState state = extensionContext.getStore(NAMESPACE).get(TestState.class, TestState.class);
        return state != null ? state.registry : registry();
    }

    /** Open lease counts per resource before the test; empty for a fresh registry. */
    private static Map<String, Long> baseline(RefRegistry registry) {
        Map<String, Long> counts = new HashMap<>();
        for (OpenLeases o : registry.openLeases()) {
            counts.put(o.refName(), o.count());
        }
        return counts;
    }

    /** The leases opened during the test and still open, after the grace period if any. */
    private List<OpenLeases> awaitNoneOpenedLeftOpen(TestState state) {
        long deadline = System.nanoTime() + closeGrace.toNanos();
        for (;;) {
            List<OpenLeases> open = openedDuringTest(state);
            if (open.isEmpty() || System.nanoTime() - deadline >= 0) {
                return open;
            }
            LockSupport.parkNanos(POLL_NANOS);
        }
    }

    /**
     * Per resource, the leases beyond those open before the test, with only the tracked holders
     * acquired since the test started.
     */
    private static List<OpenLeases> openedDuringTest(TestState state) {
        Duration testAge = Duration.ofNanos(System.nanoTime() - state.startedAt);
        List<OpenLeases> opened = new ArrayList<>();
        for (OpenLeases o : state.registry.openLeases()) {
            long before = state.baseline.getOrDefault(o.refName(), 0L);
            if (o.count() <= before) {
                continue;
            }
            if (before == 0) {
                opened.add(o);
            } else {
                List<LeaseHolder> recent = new ArrayList<>();
                for (LeaseHolder h : o.holders()) {
                    if (h.heldFor().compareTo(testAge) <= 0) {
                        recent.add(h);
                    }
                }
                opened.add(new OpenLeases(o.refName(), o.state(), o.count() - before, recent, 0, List.of()));
            }
        }
        return opened;
    }

    private String leakMessage(RefRegistry registry, List<OpenLeases> open) {
        long total = 0;
        for (OpenLeases o : open) {
            total += o.count();
        }
        StringBuilder sb = new StringBuilder("PercpuRefExtension: ").append(total)
                .append(total == 1 ? " lease" : " leases").append(" opened during the test ")
                .append(total == 1 ? "is" : "are").append(" still open");
        if (!closeGrace.isZero()) {
            sb.append(" after waiting ").append(closeGrace);
        }
        sb.append(" (registry '").append(registry.name()).append("'):");
        for (OpenLeases o : open) {
            sb.append('\n').append(withoutTestFrameworkFrames(o.toString()));
        }
        sb.append("\nClose every lease (try-with-resources), or for leases closed by asynchronous work give them time"
                + " with awaitingClose(Duration)");
        return sb.toString();
    }

    /**
     * {@code description} with each stack trace cut at the first frame of the test framework that
     * called the test method (reflection, JUnit): those frames are the same for every test.
     */
    private static String withoutTestFrameworkFrames(String description) {
        StringBuilder sb = new StringBuilder();
        boolean cutting = false;
        int cut = 0;
        for (String line : description.split("\n", -1)) {
            boolean frame = line.startsWith("    at ");
            if (frame && (cutting || isTestFrameworkFrame(line.substring("    at ".length())))) {
                cutting = true;
                cut++;
                continue;
            }
            if (cut > 0) {
                sb.append("\n    ... ").append(cut).append(" frames of the test framework");
            }
            cutting = false;
            cut = 0;
            if (sb.length() > 0) {
                sb.append('\n');
            }
            sb.append(line);
        }
        if (cut > 0) {
            sb.append("\n    ... ").append(cut).append(" frames of the test framework");
        }
        return sb.toString();
    }

    private static boolean isTestFrameworkFrame(String frame) {
        String f = frame.startsWith("java.base/") ? frame.substring("java.base/".length()) : frame;
        return f.startsWith("jdk.internal.reflect.") || f.startsWith("java.lang.reflect.")
                || f.startsWith("org.junit.");
    }

    /** What the extension knows about one running test. */
    private static final class TestState {
        final RefRegistry registry;
        /** Open leases per resource name before the test (watched registry); empty for a fresh one. */
        final Map<String, Long> baseline;
        /** nanoTime at the start of the test. */
        final long startedAt;

        TestState(RefRegistry registry, Map<String, Long> baseline, long startedAt) {
            this.registry = registry;
            this.baseline = baseline;
            this.startedAt = startedAt;
        }
    }
}
