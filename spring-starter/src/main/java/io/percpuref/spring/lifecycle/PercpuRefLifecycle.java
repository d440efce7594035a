package io.percpuref.spring.lifecycle;

import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.ShutdownReport;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.BeanFactoryAware;
import org.springframework.context.ApplicationListener;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.support.AbstractApplicationContext;
import org.springframework.context.support.DefaultLifecycleProcessor;

import java.time.Duration;
import java.util.Objects;

/**
 * Drains the {@link RefRegistry} when the application context stops: kills every live resource
 * (new leases are refused from then on), waits up to the shutdown timeout for their last leases to
 * close (each release action then closes its resource), and logs the outcome, with the holders of
 * the leases of any resource still draining (the stragglers). The log is the record of a slow
 * shutdown: meter registries are closed before this phase.
 *
 * <h2>Phase</h2>
 * {@link #DEFAULT_PHASE} = {@code Integer.MAX_VALUE - 1536}. Lifecycles stop in descending phase
 * order, so with a web server the sequence is:
 * <ol>
 *   <li>{@code MAX_VALUE - 1024}: graceful shutdown of the web server: new requests are refused,
 *   requests in flight finish (their guarded calls with them);</li>
 *   <li>{@code MAX_VALUE - 1536}: this drain: the remaining leases (asynchronous work, background
 *   tasks) finish or time out; resources are closed;</li>
 *   <li>{@code MAX_VALUE - 2048}: the web server stops.</li>
 * </ol>
 * Then the beans are destroyed. {@link #stop(Runnable)} is asynchronous (the drain runs on a thread
 * of its own), and this lifecycle sets the lifecycle processor's timeout for its phase to the
 * shutdown timeout plus one second, so that {@code spring.lifecycle.timeout-per-shutdown-phase}
 * does not cut the drain short.
 *
 * <h2>Shutdown budget</h2>
 * Without a budget, a close can take the earlier phases (the web server's graceful shutdown: up to
 * {@code spring.lifecycle.timeout-per-shutdown-phase}, 30 s) plus the drain (up to the shutdown
 * timeout, 30 s, plus one second): more than Kubernetes' default termination grace period of 30 s,
 * after which the process is killed with the resources still open. With a
 * {@linkplain #setBudget(Duration) budget}, the drain waits at most until the budget, counted from
 * the {@code ContextClosedEvent} (the start of the close), has run out: the earlier phases plus the
 * drain take no longer than the budget, provided the earlier phases end within it.
 *
 * <p>The drain is {@link RefRegistry#shutdown(Duration)}: it is final. The registry refuses new
 * registrations afterwards, and starting the lifecycle again does not bring resources back. So this
 * lifecycle is not {@linkplain #isPauseable() pauseable}: a context pause (a restart sequence)
 * leaves the resources alone; only a close or an explicit context-wide stop drains.
 */
public class PercpuRefLifecycle implements SmartLifecycle, BeanFactoryAware, ApplicationListener<ContextClosedEvent> {

    /** After the web server's graceful shutdown, before the web server stops. */
    public static final int DEFAULT_PHASE = SmartLifecycle.DEFAULT_PHASE - 1536;

    /** Time the lifecycle processor waits beyond the shutdown timeout, for the report to be logged. */
    private static final Duration REPORT_MARGIN = Duration.ofSeconds(1);

    private static final Log logger = LogFactory.getLog(PercpuRefLifecycle.class);

    private final RefRegistry registry;
    private final Duration timeout;
    private final int phase;
    private BeanFactory beanFactory;
    /** True from start until stop begins. */
    private volatile boolean running;
    /** Longest time from the start of the close to the end of the drain; null: no bound. */
    private volatile Duration budget;
    /** System.nanoTime() of this context's ContextClosedEvent; 0 until then. */
    private volatile long closeStartedNanos;

    /**
     * @param registry the registry to drain
     * @param timeout  how long to wait for the drain
     * @param phase    the lifecycle phase; {@link #DEFAULT_PHASE} unless you know better
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public PercpuRefLifecycle(RefRegistry registry, Duration timeout, int phase) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("shutdown timeout must not be negative, was " + timeout);
        }
        this.phase = phase;
    }

    @Override
    public void setBeanFactory(BeanFactory beanFactory) {
        this.beanFactory = beanFactory;
    }

    /**
     * Bounds the whole close: the drain waits at most until {@code budget} has passed since the
     * close began (or, for a stop without a close, since the drain began), even if the shutdown
     * timeout is longer.
     *
     * @param budget the bound; null for none (the default)
     * @throws IllegalArgumentException if {@code budget} is negative
     */
    public void setBudget(Duration budget) {
        if (budget != null && budget.isNegative()) {
            throw new IllegalArgumentException("shutdown budget must not be negative, was " + budget);
        }
        this.budget = budget;
    }

    /** Records when this context's close began, the start of the {@linkplain #setBudget budget}. */
    @Override
    public void onApplicationEvent(ContextClosedEvent event) {
        if (event.getApplicationContext().getAutowireCapableBeanFactory() == this.beanFactory) {
            this.closeStartedNanos = System.nanoTime();
        }
    }

    @Override
    public void start() {
        this.running = true;
        extendShutdownPhaseTimeout();
    }

    /** Drains on a thread of its own, then calls {@code callback}. */
    @Override
    public void stop(Runnable callback) {
        this.running = false;
        Thread drainer = new Thread(() -> {
            try {
                drain();
            }
            finally {
                callback.run();
            }
        }, "percpu-ref-shutdown");
        drainer.setDaemon(true);
        drainer.start();
    }

    /** Drains in the calling thread. */
    @Override
    public void stop() {
        this.running = false;
        drain();
    }

    @Override
    public boolean isRunning() {
        return this.running;
    }

    @Override
    public int getPhase() {
        return this.phase;
    }

    /** {@code false}: a pause must not kill resources, which cannot come back. */
    @Override
    public boolean isPauseable() {
        return false;
    }

    /** The configured drain timeout. */
    public Duration getTimeout() {
        return this.timeout;
    }

    /**
     * Kills every live resource and waits up to the timeout for all of them to be released.
     *
     * @return what was released and what is still draining
     */
    ShutdownReport drain() {
        long start = System.nanoTime();
        Duration wait = waitWithinTheBudget(start);
        long live = this.registry.liveCount();
        long dying = this.registry.dyingCount();
        if (live + dying > 0) {
            logger.info("Draining percpu refs: killing " + live + " live, " + dying + " already dying; waiting up to "
                    + wait + (wait.equals(this.timeout) ? "" : " (what is left of the shutdown budget " + this.budget + ")"));
        }
        ShutdownReport report = this.registry.shutdown(wait);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        if (!report.isClean()) {
            logger.warn("Percpu refs still draining after " + wait + " (they are released when their last"
                    + " lease closes): " + report);
        }
        else if (!report.released().isEmpty()) {
            logger.info("Drained percpu refs in " + took.toMillis() + " ms: " + report.released());
        }
        return report;
    }

    /** The shutdown timeout, or less if the budget runs out sooner. */
    private Duration waitWithinTheBudget(long drainStartNanos) {
        Duration b = this.budget;
        if (b == null) {
            return this.timeout;
        }
        long closeStarted = this.closeStartedNanos;
        long since = closeStarted != 0 ? closeStarted : drainStartNanos;
        Duration left = b.minusNanos(drainStartNanos - since);
        if (left.isNegative()) {
            left = Duration.ZERO;
        }
        return left.compareTo(this.timeout) < 0 ? left : this.timeout;
    }

    private void extendShutdownPhaseTimeout() {
        String name = AbstractApplicationContext.LIFECYCLE_PROCESSOR_BEAN_NAME;
        if (this.beanFactory != null && this.beanFactory.containsBean(name)
                && this.beanFactory.getBean(name) instanceof DefaultLifecycleProcessor processor) {
            processor.setTimeoutForShutdownPhase(this.phase, this.timeout.plus(REPORT_MARGIN).toMillis());
        }
    }
}
