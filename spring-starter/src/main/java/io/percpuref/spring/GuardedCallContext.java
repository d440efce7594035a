package io.percpuref.spring;

import io.micrometer.observation.Observation;

import org.jspecify.annotations.Nullable;

import java.lang.reflect.Method;
import java.util.Locale;
import java.util.Objects;

/**
 * The {@link Observation.Context} of one guarded call: the resource it leases (and its registry), the method, and, once
 * the call has ended, its {@link Outcome}. Created by the {@link Guarded @Guarded} advisor for each
 * call it observes and read by {@link GuardedCallObservationConvention}s and observation handlers.
 *
 * <p>The outcome is {@code null} while the call runs (so a handler's start-time key values carry
 * only the resource) and is set once, just before the observation stops. Written and read by the
 * threads that start and stop the observation, which Micrometer's handlers see in that order.
 */
public class GuardedCallContext extends Observation.Context {

    private final String registryName;
    private final String resourceName;
    private final Method method;
    private final Class<?> targetClass;
    private volatile @Nullable Outcome outcome;

    /**
     * @param registryName the name of the {@code RefRegistry} that holds the resource
     *                     ({@code RefRegistry.name()})
     * @param resourceName the name of the guarded resource (as resolved from {@code @Guarded})
     * @param method       the guarded method
     * @param targetClass  the class of the bean whose method is called
     * @throws NullPointerException if any argument is null
     */
    public GuardedCallContext(String registryName, String resourceName, Method method, Class<?> targetClass) {
        this.registryName = Objects.requireNonNull(registryName, "registryName");
        this.resourceName = Objects.requireNonNull(resourceName, "resourceName");
        this.method = Objects.requireNonNull(method, "method");
        this.targetClass = Objects.requireNonNull(targetClass, "targetClass");
    }

    /** The name of the {@code RefRegistry} that holds the resource ({@code "default"} unless configured). */
    public String getRegistryName() {
        return this.registryName;
    }

    /** The name of the resource the call leases, as registered in the {@code RefRegistry}. */
    public String getResourceName() {
        return this.resourceName;
    }

    /** The guarded method. */
    public Method getMethod() {
        return this.method;
    }

    /** The class of the bean whose method is called (the target, not the proxy). */
    public Class<?> getTargetClass() {
        return this.targetClass;
    }

    /** How the call ended; {@code null} while it runs. */
    public @Nullable Outcome getOutcome() {
        return this.outcome;
    }

    /**
     * Sets how the call ended; the advisor calls it before it stops the observation.
     *
     * @throws NullPointerException if {@code outcome} is null
     */
    public void setOutcome(Outcome outcome) {
        this.outcome = Objects.requireNonNull(outcome, "outcome");
    }

    /** How a guarded call ended: the values of the {@code outcome} key. */
    public enum Outcome {

        /**
         * The call got its lease and the guarded work ended normally: the method returned, its
         * {@code CompletionStage} completed normally, or the subscription completed or was cancelled.
         */
        SUCCESS,

        /**
         * The resource was not live (dying, released, or nothing registered under the name): the
         * method did not run. Also when a fallback method answered instead, or the call was skipped.
         */
        REFUSED,

        /**
         * The call got its lease and the guarded work failed: the method threw, its
         * {@code CompletionStage} completed exceptionally, or the subscription ended with an error.
         */
        ERROR;

        /** The key value: {@code success}, {@code refused} or {@code error}. */
        public String value() {
            return name().toLowerCase(Locale.ROOT);
        }
    }
}
