package io.percpuref.spring;

import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationConvention;

/**
 * An {@link ObservationConvention} for guarded calls ({@link GuardedCallContext}). The
 * {@link Guarded @Guarded} advisor uses the application's bean of this type if there is exactly
 * one, else {@link DefaultGuardedCallObservationConvention}; a global convention registered with
 * the {@code ObservationRegistry} takes precedence over both, as Micrometer defines. To add key
 * values, extend {@link DefaultGuardedCallObservationConvention}.
 */
public interface GuardedCallObservationConvention extends ObservationConvention<GuardedCallContext> {

    /** Supports exactly the contexts of guarded calls. */
    @Override
    default boolean supportsContext(Observation.Context context) {
        return context instanceof GuardedCallContext;
    }
}
