package io.percpuref.spring.autoconfigure;

import io.percpuref.registry.LeakDetection;
import io.percpuref.spring.guard.GuardedBeanPostProcessor;
import io.percpuref.spring.lifecycle.PercpuRefLifecycle;

import org.springframework.boot.context.properties.ConfigurationProperties;

import java.time.Duration;

/**
 * Configuration of the percpu-ref starter, prefix {@code percpu-ref}. The javadoc of each field is
 * its description in the configuration metadata (IDE completion).
 */
@ConfigurationProperties("percpu-ref")
public class PercpuRefProperties {

    /**
     * Whether to auto-configure percpu-ref: the registry, @Guarded methods, @GuardedResource beans,
     * the drain at shutdown, the metrics, the actuator endpoint and the health indicator.
     */
    private boolean enabled = true;

    /**
     * Which leases the registry tracks, so that leaked leases are reported and stragglers at
     * shutdown are logged with their holders: 'disabled', 'simple' (a sample of one lease in 128)
     * or 'paranoid' (every lease, with the stack trace of its acquisition).
     */
    private LeakDetection leakDetection = LeakDetection.SIMPLE;

    /**
     * How long a resource may be dying (killed, leases still outstanding) before it is reported as
     * stuck: logged once, counted in the 'percpu.refs.stuck' gauge, and listed in the details of
     * the 'percpuRefs' health indicator (whose status is then 'percpu-ref.health.stuck-status').
     */
    private Duration stuckThreshold = Duration.ofSeconds(60);

    /**
     * Name of the registry: the 'registry' tag of its meters and of the 'percpu.guarded.call'
     * observation, and part of its thread names. Give each application sharing a meter registry
     * or a dashboard its own.
     */
    private String name = "default";

    /**
     * With 'percpu-ref.leak-detection=simple', track one lease in this many, chosen at random (at
     * least 1; 1 tracks every lease, without paranoid's stack traces).
     */
    private int leakSamplingInterval = 128;

    /**
     * Whether to put back the reference of a tracked lease that leaked (was garbage collected
     * without being closed), so that a leak cannot keep a resource dying, and the shutdown
     * waiting, forever. Off by default: the leak is reported and the resource stays dying, which
     * shows the bug instead of hiding it.
     */
    private boolean reclaimLeaks = false;

    /**
     * Name of the java.util.concurrent.Executor bean (a TaskExecutor, for example) on which the
     * registry runs release actions, confirm callbacks and leak handling. Unset: the bean named
     * 'percpuRefCallbackExecutor' if there is one, else the registry's own pool of daemon threads.
     */
    private String callbackExecutor;

    private final Shutdown shutdown = new Shutdown();

    private final Metrics metrics = new Metrics();

    private final Guard guard = new Guard();

    private final Web web = new Web();

    private final Health health = new Health();

    public boolean isEnabled() {
        return this.enabled;
    }

    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    public LeakDetection getLeakDetection() {
        return this.leakDetection;
    }

    public void setLeakDetection(LeakDetection leakDetection) {
        this.leakDetection = leakDetection;
    }

    public Duration getStuckThreshold() {
        return this.stuckThreshold;
    }

    /** @throws IllegalArgumentException if {@code stuckThreshold} is zero or negative */
    public void setStuckThreshold(Duration stuckThreshold) {
        if (stuckThreshold.isZero() || stuckThreshold.isNegative()) {
            throw new IllegalArgumentException("percpu-ref.stuck-threshold must be positive, was " + stuckThreshold);
        }
        this.stuckThreshold = stuckThreshold;
    }

    public String getName() {
        return this.name;
    }

    /** @throws IllegalArgumentException if {@code name} is blank */
    public void setName(String name) {
        if (name.isBlank()) {
            throw new IllegalArgumentException("percpu-ref.name must not be blank, was '" + name + "'");
        }
        this.name = name;
    }

    public int getLeakSamplingInterval() {
        return this.leakSamplingInterval;
    }

    /** @throws IllegalArgumentException if {@code leakSamplingInterval} is less than 1 */
    public void setLeakSamplingInterval(int leakSamplingInterval) {
        if (leakSamplingInterval < 1) {
            throw new IllegalArgumentException("percpu-ref.leak-sampling-interval must be at least 1, was "
                    + leakSamplingInterval);
        }
        this.leakSamplingInterval = leakSamplingInterval;
    }

    public boolean isReclaimLeaks() {
        return this.reclaimLeaks;
    }

    public void setReclaimLeaks(boolean reclaimLeaks) {
        this.reclaimLeaks = reclaimLeaks;
    }

    public String getCallbackExecutor() {
        return this.callbackExecutor;
    }

    public void setCallbackExecutor(String callbackExecutor) {
        this.callbackExecutor = callbackExecutor;
    }

    public Shutdown getShutdown() {
        return this.shutdown;
    }

    public Metrics getMetrics() {
        return this.metrics;
    }

    public Guard getGuard() {
        return this.guard;
    }

    public Web getWeb() {
        return this.web;
    }

    public Health getHealth() {
        return this.health;
    }

    /** The 'percpuRefs' health indicator. */
    public static class Health {

        /**
         * Status of the 'percpuRefs' health indicator while at least one resource is stuck (the
         * stuck resources are in its details either way): 'UP' (the default: a stuck resource is a
         * leak to investigate, not a reason to pull the instance from its load balancer),
         * 'OUT_OF_SERVICE', 'DOWN' or any status code of your own.
         */
        private String stuckStatus = "UP";

        public String getStuckStatus() {
            return this.stuckStatus;
        }

        public void setStuckStatus(String stuckStatus) {
            this.stuckStatus = stuckStatus;
        }
    }

    /** The drain of every managed resource when the application context closes. */
    public static class Shutdown {

        /**
         * How long to wait, at context close, for the killed resources to drain (their last
         * leases to close) before the remaining ones are logged as stragglers and shutdown goes
         * on. The lifecycle processor waits this long plus one second for the phase.
         */
        private Duration timeout = Duration.ofSeconds(30);

        /**
         * SmartLifecycle phase of the drain. The default, Integer.MAX_VALUE - 1536, runs after the
         * web server's graceful shutdown (Integer.MAX_VALUE - 1024: requests in flight have
         * finished, new ones are refused) and before the web server stops (Integer.MAX_VALUE - 2048).
         */
        private int phase = PercpuRefLifecycle.DEFAULT_PHASE;

        /**
         * Upper bound of the whole close, counted from its start: the drain waits at most until
         * this much time has passed since the context began to close, whatever the earlier phases
         * (the web server's graceful shutdown) took. Set it below the platform's grace period (for
         * example 25s for Kubernetes' default 30s terminationGracePeriodSeconds), and keep
         * 'spring.lifecycle.timeout-per-shutdown-phase' below it. Unset (the default): no bound
         * beyond 'percpu-ref.shutdown.timeout'.
         */
        private Duration budget;

        public Duration getTimeout() {
            return this.timeout;
        }

        public void setTimeout(Duration timeout) {
            this.timeout = timeout;
        }

        public int getPhase() {
            return this.phase;
        }

        public Duration getBudget() {
            return this.budget;
        }

        public void setBudget(Duration budget) {
            this.budget = budget;
        }

        public void setPhase(int phase) {
            this.phase = phase;
        }
    }

    /** The Micrometer meters of the registry. */
    public static class Metrics {

        /**
         * Whether to publish a 'percpu.refs.in.flight' gauge per resource, tagged with its name.
         * One series per registered resource: enable it only when resources are few or long-lived.
         */
        private boolean perRef = false;

        public boolean isPerRef() {
            return this.perRef;
        }

        public void setPerRef(boolean perRef) {
            this.perRef = perRef;
        }
    }

    /** The advisor that applies @Guarded. */
    public static class Guard {

        /**
         * Order of the @Guarded advisor among the other advisors of the same proxy (@Transactional,
         * AspectJ aspects, Resilience4j, @ConcurrencyLimit, @Retryable): lower values run outside
         * (before) higher ones. The default, 0, puts the guard outside the usual advisors, so that a
         * refused call never takes a transaction, a retry or a concurrency permit.
         */
        private int order = GuardedBeanPostProcessor.DEFAULT_ORDER;

        /**
         * What to do when, once the application context has been refreshed, a @Guarded method names
         * a resource under which nothing is registered (a typo, most likely): 'fail' the startup, or
         * only 'warn' (for resources that the application registers later, at run time). Calls
         * guarded by an unregistered name are refused either way.
         */
        private UnknownResource unknownResource = UnknownResource.FAIL;

        private final Observations observations = new Observations();

        public int getOrder() {
            return this.order;
        }

        public void setOrder(int order) {
            this.order = order;
        }

        public UnknownResource getUnknownResource() {
            return this.unknownResource;
        }

        public void setUnknownResource(UnknownResource unknownResource) {
            this.unknownResource = unknownResource;
        }

        /** The Micrometer Observation of each guarded call. */
        public Observations getObservations() {
            return this.observations;
        }

        /** The Micrometer Observation of each guarded call. */
        public static class Observations {

            /**
             * Whether each @Guarded call is a Micrometer Observation named 'percpu.guarded.call', with
             * low-cardinality keys 'resource', 'outcome' (success, refused, error) and 'registry': the
             * timer 'percpu_guarded_call_seconds' in Prometheus, and a span when a tracer is present. Needs an ObservationRegistry bean (Spring Boot's actuator auto-configures one);
             * without it, or with the no-op registry, calls are not observed.
             */
            private boolean enabled = true;

            /** Whether guarded calls are observed. */
            public boolean isEnabled() {
                return this.enabled;
            }

            /** Sets whether guarded calls are observed. */
            public void setEnabled(boolean enabled) {
                this.enabled = enabled;
            }
        }

        /** What to do about a guarded resource name that nothing is registered under after startup. */
        public enum UnknownResource {
            /** Fail the startup. */
            FAIL,
            /** Log a warning. */
            WARN
        }
    }

    /** Web application support. */
    public static class Web {

        /**
         * Whether to register an exception handler (a @RestControllerAdvice) that answers a
         * ResourceUnavailableException with 503 Service Unavailable and an RFC 9457 problem detail,
         * in servlet and reactive web applications.
         */
        private boolean exceptionHandler = true;

        /**
         * Retry-After of the 503 answer to a refused call, sent in whole seconds (rounded up).
         */
        private Duration retryAfter = Duration.ofSeconds(1);

        public boolean isExceptionHandler() {
            return this.exceptionHandler;
        }

        public void setExceptionHandler(boolean exceptionHandler) {
            this.exceptionHandler = exceptionHandler;
        }

        public Duration getRetryAfter() {
            return this.retryAfter;
        }

        public void setRetryAfter(Duration retryAfter) {
            this.retryAfter = retryAfter;
        }
    }
}
