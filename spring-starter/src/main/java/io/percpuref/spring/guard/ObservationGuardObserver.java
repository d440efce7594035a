package io.percpuref.spring.guard;

import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import io.percpuref.ResourceUnavailableException;
import io.percpuref.spring.DefaultGuardedCallObservationConvention;
import io.percpuref.spring.GuardedCallContext;
import io.percpuref.spring.GuardedCallObservationConvention;

import org.jspecify.annotations.Nullable;

import java.lang.reflect.Method;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * What the guard reports each call to, with Micrometer's Observation API: one {@link Observation} per guarded
 * call, named and keyed by a {@link GuardedCallObservationConvention} (the application's, else
 * {@link DefaultGuardedCallObservationConvention}), in the application's {@link ObservationRegistry}.
 *
 * <p>The registry and the convention are looked up at the first guarded call, not when the
 * post-processor is created (they are ordinary beans, created after the post-processors); both
 * lookups are cached (benign race: every thread gets the same beans). With no registry bean, or
 * the no-op registry, {@link #start} returns null, and the call goes the unobserved way (nothing
 * allocated). A registry that has no handlers yet is checked on every call: handlers may be added
 * after the first call, and {@link ObservationRegistry#isNoop()} is a cheap read.
 */
public final class ObservationGuardObserver implements GuardObserver {

    private static final ObservationRegistry ABSENT = ObservationRegistry.NOOP;

    private final Supplier<@Nullable ObservationRegistry> registrySupplier;
    private final Supplier<@Nullable GuardedCallObservationConvention> conventionSupplier;
    /** The registry once looked up ({@link #ABSENT} if there is none); null before. */
    private volatile @Nullable ObservationRegistry registry;
    /** The application's convention once looked up; null before and when it has none. */
    private volatile @Nullable GuardedCallObservationConvention convention;
    private volatile boolean conventionResolved;

    /**
     * @param registry   supplies the application's registry, or null if it has none
     * @param convention supplies the application's convention, or null to use the default
     */
    public ObservationGuardObserver(Supplier<@Nullable ObservationRegistry> registry,
                             Supplier<@Nullable GuardedCallObservationConvention> convention) {
        this.registrySupplier = Objects.requireNonNull(registry, "registry");
        this.conventionSupplier = Objects.requireNonNull(convention, "convention");
    }

    @Override
    public @Nullable Call start(String registryName, String resourceName, Method method, Class<?> targetClass) {
        ObservationRegistry observations = registry();
        if (observations.isNoop()) {
            return null;
        }
        Observation observation = Observation.createNotStarted(convention(),
                DefaultGuardedCallObservationConvention.INSTANCE,
                () -> new GuardedCallContext(registryName, resourceName, method, targetClass), observations);
        return new ObservedCall(observation.start());
    }

    private ObservationRegistry registry() {
        ObservationRegistry r = this.registry;
        if (r == null) {
            r = this.registrySupplier.get();
            r = r != null ? r : ABSENT;
            this.registry = r;
        }
        return r;
    }

    private @Nullable GuardedCallObservationConvention convention() {
        if (!this.conventionResolved) {
            this.convention = this.conventionSupplier.get();
            this.conventionResolved = true;
        }
        return this.convention;
    }

    /** One started observation; {@link #stop} sets the outcome on its context, then stops it. */
    private static final class ObservedCall implements Call {

        private final Observation observation;
        /** The refusal, if the call was refused. */
        private volatile @Nullable ResourceUnavailableException refusal;

        ObservedCall(Observation observation) {
            this.observation = observation;
        }

        @Override
        public void refused(ResourceUnavailableException refusal) {
            this.refusal = refusal;
            this.observation.error(refusal);
        }

        @Override
        public Scope openScope() {
            Observation.Scope scope = this.observation.openScope();
            return scope::close;
        }

        @Override
        public void stop(@Nullable Throwable failure) {
            ResourceUnavailableException refused = this.refusal;
            GuardedCallContext.Outcome outcome = refused != null ? GuardedCallContext.Outcome.REFUSED
                    : failure == null ? GuardedCallContext.Outcome.SUCCESS : GuardedCallContext.Outcome.ERROR;
            if (failure != null && failure != refused) {
                this.observation.error(failure);
            }
            // The context is ours unless a predicate made the observation a no-op.
            if (this.observation.getContextView() instanceof GuardedCallContext context) {
                context.setOutcome(outcome);
            }
            this.observation.stop();
        }
    }
}
