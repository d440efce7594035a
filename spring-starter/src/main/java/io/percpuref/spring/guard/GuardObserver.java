package io.percpuref.spring.guard;

import io.percpuref.ResourceUnavailableException;

import org.jspecify.annotations.Nullable;

import java.lang.reflect.Method;

/**
 * What the guard tells an observer about each call, in types of its own, so that
 * {@link GuardInterceptor} loads no Micrometer class: Micrometer's Observation API is optional, and
 * {@link #NONE} (no observer, no allocation) is the path of every call when it is absent, switched
 * off, or the application has no (or a no-op) {@code ObservationRegistry}.
 *
 * <p>Protocol, per observed call: {@link #start}, then optionally {@link Call#refused} and
 * {@link Call#openScope} / {@link Scope#close} around the work on the calling thread, then exactly
 * one {@link Call#stop}, when the lease of the call ends (or, for a refusal, when the refusal's
 * answer has been produced). Implementations take no lock.
 */
interface GuardObserver {

    /** Observes nothing: {@link #start} returns null. */
    GuardObserver NONE = (registryName, resourceName, method, targetClass) -> null;

    /**
     * Starts the observation of one call of {@code method} leasing {@code resourceName} from the
     * registry named {@code registryName}.
     *
     * @return the started call, or {@code null} if this call is not observed
     */
    @Nullable Call start(String registryName, String resourceName, Method method, Class<?> targetClass);

    /** One observed call. */
    interface Call {

        /** Records that the call was refused: its outcome is refused, whatever {@link #stop} is given. */
        void refused(ResourceUnavailableException refusal);

        /** Makes the call's observation current on this thread until the scope is closed. */
        Scope openScope();

        /**
         * Ends the observation: outcome refused if {@link #refused} was called, else success when
         * {@code failure} is null, else error. Called once.
         */
        void stop(@Nullable Throwable failure);
    }

    /** A scope opened by {@link Call#openScope()}; closed on the thread that opened it. */
    interface Scope extends AutoCloseable {

        /** Closes the scope; never throws. */
        @Override
        void close();
    }
}
