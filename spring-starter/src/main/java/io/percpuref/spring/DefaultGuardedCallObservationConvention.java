package io.percpuref.spring;

import io.micrometer.common.KeyValue;
import io.micrometer.common.KeyValues;

import org.springframework.util.ClassUtils;

import java.util.StringJoiner;

/**
 * The default {@link GuardedCallObservationConvention}: the observation is named
 * {@value #NAME} (so its timer appears in Prometheus as
 * {@code percpu_guarded_call_seconds_count{resource,outcome}}), with
 * <ul>
 *   <li>low-cardinality keys (on meters and spans) {@value #RESOURCE} = the resource name,
 *       {@value #REGISTRY} = the name of its {@code RefRegistry} (as on the registry's own meters,
 *       so that one dashboard filters both alike) and, once the call has ended,
 *       {@value #OUTCOME} = {@code success}, {@code refused} or {@code error}
 *       ({@link GuardedCallContext.Outcome});</li>
 *   <li>a high-cardinality key (on spans only) {@value #METHOD} = the method, e.g.
 *       {@code Catalog.get(String)};</li>
 *   <li>the contextual (span) name {@code guarded <resource>}.</li>
 * </ul>
 * Subclass it to add key values; declare the subclass as a bean to use it.
 */
public class DefaultGuardedCallObservationConvention implements GuardedCallObservationConvention {

    /** The observation name. */
    public static final String NAME = "percpu.guarded.call";

    /** Low-cardinality key: the resource name. */
    public static final String RESOURCE = "resource";

    /** Low-cardinality key: {@code success}, {@code refused} or {@code error}, once the call has ended. */
    public static final String OUTCOME = "outcome";

    /** Low-cardinality key: the name of the resource's {@code RefRegistry}, as on {@code PercpuRefMetrics}' meters. */
    public static final String REGISTRY = "registry";

    /** High-cardinality key: the guarded method, {@code Type.method(ParameterTypes)}. */
    public static final String METHOD = "method";

    /** A shared instance; the class holds no state. */
    public static final DefaultGuardedCallObservationConvention INSTANCE = new DefaultGuardedCallObservationConvention();

    /** Returns {@value #NAME}. */
    @Override
    public String getName() {
        return NAME;
    }

    /** Returns {@code guarded <resource>}. */
    @Override
    public String getContextualName(GuardedCallContext context) {
        return "guarded " + context.getResourceName();
    }

    /**
     * Returns {@value #RESOURCE} and {@value #REGISTRY}, and {@value #OUTCOME} once the call has ended (not at start, so
     * that a handler's start-time meters, such as the active-calls long task timer, carry only the
     * resource).
     */
    @Override
    public KeyValues getLowCardinalityKeyValues(GuardedCallContext context) {
        KeyValues keys = KeyValues.of(KeyValue.of(RESOURCE, context.getResourceName()),
                KeyValue.of(REGISTRY, context.getRegistryName()));
        GuardedCallContext.Outcome outcome = context.getOutcome();
        return outcome == null ? keys : keys.and(KeyValue.of(OUTCOME, outcome.value()));
    }

    /** Returns {@value #METHOD}. */
    @Override
    public KeyValues getHighCardinalityKeyValues(GuardedCallContext context) {
        return KeyValues.of(KeyValue.of(METHOD, describe(context)));
    }

    /** {@code Catalog.get(String)}: the target's short class name, the method and its parameter types. */
    private static String describe(GuardedCallContext context) {
        StringJoiner parameters = new StringJoiner(", ", "(", ")");
        for (Class<?> type : context.getMethod().getParameterTypes()) {
            parameters.add(type.getSimpleName());
        }
        return ClassUtils.getShortName(context.getTargetClass()) + "." + context.getMethod().getName() + parameters;
    }
}
