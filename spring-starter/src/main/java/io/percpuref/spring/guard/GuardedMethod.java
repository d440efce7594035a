package io.percpuref.spring.guard;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.spring.Guarded;
import io.percpuref.spring.GuardedResource;

import org.jspecify.annotations.Nullable;
import org.springframework.aop.support.AopUtils;
import org.springframework.context.expression.MethodBasedEvaluationContext;
import org.springframework.core.DefaultParameterNameDiscoverer;
import org.springframework.core.KotlinDetector;
import org.springframework.core.ReactiveAdapter;
import org.springframework.core.ReactiveAdapterRegistry;
import org.springframework.context.ApplicationListener;
import org.springframework.core.annotation.AnnotatedElementUtils;
import org.springframework.core.ParameterNameDiscoverer;
import org.springframework.core.annotation.MergedAnnotations;
import org.springframework.expression.EvaluationException;
import org.springframework.expression.Expression;
import org.springframework.expression.ParseException;
import org.springframework.expression.spel.standard.SpelExpressionParser;
import org.springframework.util.ClassUtils;
import org.springframework.util.ReflectionUtils;
import org.springframework.util.StringUtils;
import org.springframework.util.StringValueResolver;

import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * What the guard needs to know about one guarded method of one target class, resolved once: the
 * resource name (or its parsed {@code resourceExpression}, evaluated per call), how the lease
 * follows the return type, and the fallback method, if any.
 * Immutable; resolving it validates the annotation (see {@link #resolve}).
 */
final class GuardedMethod {

    /** How long the lease of a call is held, by return type. */
    enum Kind {
        /** Until the method returns or throws. */
        SYNC,
        /** Until the method's own {@link CompletionStage} completes; the caller gets a dependent future. */
        STAGE,
        /**
         * A type that Spring's {@link ReactiveAdapterRegistry} adapts (Reactor, RxJava, Kotlin Flow,
         * any {@code Publisher}): the body runs under a lease, then each subscription holds one.
         */
        REACTIVE,
        /**
         * Declared {@code Object}: decided per call by the returned value, as {@link #STAGE} for a
         * {@code CompletionStage}, as {@link #REACTIVE} for an adaptable type, else as {@link #SYNC}.
         */
        DYNAMIC
    }

    /** Annotations of methods that the container invokes, whose refused calls are skipped by default. */
    private static final Set<String> CONTAINER_INVOKED = Set.of(
            "org.springframework.scheduling.annotation.Scheduled",
            "org.springframework.scheduling.annotation.Schedules",
            "org.springframework.context.event.EventListener",
            "org.springframework.jms.annotation.JmsListener",
            "org.springframework.kafka.annotation.KafkaListener",
            "org.springframework.kafka.annotation.KafkaHandler",
            "org.springframework.amqp.rabbit.annotation.RabbitListener",
            "org.springframework.amqp.rabbit.annotation.RabbitHandler",
            "org.springframework.pulsar.annotation.PulsarListener",
            "io.awspring.cloud.sqs.annotation.SqsListener");

    /** Spring's registry of reactive types; it knows none unless Reactor is on the class path. */
    private static final ReactiveAdapterRegistry REACTIVE_TYPES = ReactiveAdapterRegistry.getSharedInstance();

    /** Parses {@code resourceExpression}s; thread-safe, as are the expressions it makes. */
    private static final SpelExpressionParser EXPRESSIONS = new SpelExpressionParser();

    /** Names of the arguments in {@code resourceExpression}s: {@code -parameters}, Kotlin reflection. */
    private static final ParameterNameDiscoverer PARAMETER_NAMES = new DefaultParameterNameDiscoverer();

    /** For error messages, e.g. {@code Search.find(String)}. */
    private final String description;
    /** The resource name; null if {@link #nameExpression} names the resource per call. */
    private final @Nullable String resourceName;
    /** The parsed {@code resourceExpression}; null if the name is {@link #resourceName}. */
    private final @Nullable Expression nameExpression;
    /** The method whose arguments {@link #nameExpression} reads (the most specific one). */
    private final Method method;
    private final Kind kind;
    /** How the declared return type converts to and from a {@code Publisher}; REACTIVE only. */
    private final @Nullable ReactiveAdapter adapter;
    /** Called instead of the method when the resource is not live; null if none. */
    private final @Nullable Method fallback;
    /** Whether {@link #fallback} takes the exception as an extra last argument. */
    private final boolean fallbackTakesException;
    /** Whether a refusal without a fallback returns quietly instead of failing (void methods only). */
    private final boolean skipsRefusals;

    private GuardedMethod(String description, @Nullable String resourceName, @Nullable Expression nameExpression,
                          Method method, Kind kind, @Nullable ReactiveAdapter adapter,
                          @Nullable Method fallback, boolean fallbackTakesException, boolean skipsRefusals) {
        this.description = description;
        this.resourceName = resourceName;
        this.nameExpression = nameExpression;
        this.method = method;
        this.kind = kind;
        this.adapter = adapter;
        this.fallback = fallback;
        this.fallbackTakesException = fallbackTakesException;
        this.skipsRefusals = skipsRefusals;
    }

    /**
     * Resolves the guard of {@code method} as called on an instance of {@code targetClass}.
     *
     * @param resolver resolves {@code ${...}} placeholders in resource names
     * @throws IllegalStateException if the method is not guarded, a bare {@code @Guarded} is used
     *                               outside a {@code @GuardedResource} class, the method is a Kotlin
     *                               {@code suspend} function or returns a {@code CompletionStage}
     *                               subtype other than {@code CompletableFuture}, the fallback
     *                               method is missing or does not fit, or the resource expression is
     *                               given with a name or cannot be parsed; the message names the method
     */
    static GuardedMethod resolve(Method method, Class<?> targetClass, StringValueResolver resolver) {
        Method specific = AopUtils.getMostSpecificMethod(method, targetClass);
        String description = describe(specific, targetClass);
        Guarded guarded = AnnotatedElementUtils.findMergedAnnotation(specific, Guarded.class);
        boolean typeLevel = guarded == null;
        if (typeLevel) {
            guarded = AnnotatedElementUtils.findMergedAnnotation(targetClass, Guarded.class);
        }
        if (guarded == null) {
            throw new IllegalStateException(description + " is not annotated @Guarded, nor is its class");
        }
        String expressionText = guarded.resourceExpression().trim();
        Expression expression = null;
        String name = resolveName(resolver, guarded.value());
        if (!expressionText.isEmpty()) {
            if (!guarded.value().isEmpty()) {
                throw new IllegalStateException("@Guarded on " + description + " gives both a resource name ('"
                        + guarded.value() + "') and a resourceExpression (\"" + expressionText + "\"): give one");
            }
            expression = parse(expressionText, description);
            name = null;
        }
        else if (name.isEmpty()) {
            GuardedResource resource = AnnotatedElementUtils.findMergedAnnotation(targetClass, GuardedResource.class);
            if (resource == null) {
                throw new IllegalStateException("@Guarded on " + description + " names no resource, and "
                        + targetClass.getName() + " is not a @GuardedResource: write @Guarded(\"resource-name\")");
            }
            name = resolveName(resolver, resource.name());
            if (name.isEmpty()) {
                throw new IllegalStateException("@GuardedResource on " + targetClass.getName() + " has an empty name");
            }
        }
        if (KotlinDetector.isSuspendingFunction(specific)) {
            throw new IllegalStateException("@Guarded " + description + " is a Kotlin suspend function, which the"
                    + " guard does not support: as a plain call, its lease would end at the first suspension point."
                    + " Guard a function that returns a Flow, Mono or CompletableFuture instead, or lease the resource"
                    + " inside the function (ManagedResource.acquire() in a use { } block)");
        }
        Class<?> returnType = specific.getReturnType();
        Kind kind = kindOf(returnType);
        if (kind == Kind.STAGE && !returnType.isAssignableFrom(CompletableFuture.class)) {
            throw new IllegalStateException("@Guarded " + description + " returns " + returnType.getName()
                    + ": the guard returns a new CompletableFuture that follows the method's own, so that only"
                    + " the method's work ends the lease; declare CompletionStage or CompletableFuture");
        }
        Method fallback = null;
        boolean takesException = false;
        if (StringUtils.hasText(guarded.fallbackMethod())) {
            // Type-level: the fallback applies to the methods it fits; the others are refused with the exception.
            fallback = findFallback(specific, targetClass, guarded.fallbackMethod(), description, !typeLevel);
            if (fallback != null) {
                takesException = fallback.getParameterCount() == specific.getParameterCount() + 1;
                ReflectionUtils.makeAccessible(fallback);
            }
        }
        boolean skipsRefusals = switch (guarded.refusal()) {
            case FAIL -> false;
            case AUTO -> returnType == void.class && invokedByTheContainer(specific, targetClass);
            case SKIP -> {
                if (returnType != void.class) {
                    throw new IllegalStateException("@Guarded(refusal = SKIP) on " + description + ", which returns "
                            + returnType.getName() + ": only a void method can skip a refused call");
                }
                yield true;
            }
        };
        ReactiveAdapter adapter = kind == Kind.REACTIVE ? REACTIVE_TYPES.getAdapter(returnType) : null;
        return new GuardedMethod(description, name, expression, specific, kind, adapter, fallback, takesException,
                skipsRefusals);
    }

    private static Expression parse(String expressionText, String description) {
        try {
            return EXPRESSIONS.parseExpression(expressionText);
        }
        catch (ParseException e) {
            throw new IllegalStateException("@Guarded(resourceExpression = \"" + expressionText + "\") on " + description
                    + " cannot be parsed: " + e.getMessage(), e);
        }
    }

    /**
     * Whether the container invokes {@code method}: a scheduled task, an event or message listener
     * (see {@link Guarded.Refusal#AUTO}). Matched by annotation name, so that none of these
     * projects is needed on the class path.
     */
    private static boolean invokedByTheContainer(Method method, Class<?> targetClass) {
        if (ApplicationListener.class.isAssignableFrom(targetClass) && method.getName().equals("onApplicationEvent")
                && method.getParameterCount() == 1) {
            return true;
        }
        return MergedAnnotations.from(method, MergedAnnotations.SearchStrategy.TYPE_HIERARCHY).stream()
                .anyMatch(a -> CONTAINER_INVOKED.contains(a.getType().getName()));
    }

    /** For messages: {@code Search.find(String, int)}. */
    static String describe(Method method, Class<?> targetClass) {
        return ClassUtils.getShortName(targetClass) + "." + method.getName()
                + Arrays.stream(method.getParameterTypes()).map(Class::getSimpleName)
                .reduce((a, b) -> a + ", " + b).map(p -> "(" + p + ")").orElse("()");
    }

    private static String resolveName(StringValueResolver resolver, String raw) {
        String resolved = raw.isEmpty() ? raw : resolver.resolveStringValue(raw);
        return resolved == null ? "" : resolved.trim();
    }

    private static Kind kindOf(Class<?> returnType) {
        if (CompletionStage.class.isAssignableFrom(returnType)) {
            return Kind.STAGE;
        }
        if (returnType == Object.class) {
            return Kind.DYNAMIC;
        }
        if (REACTIVE_TYPES.getAdapter(returnType) != null) {
            return Kind.REACTIVE;
        }
        return Kind.SYNC;
    }

    /** The adapter of a value returned by a {@link Kind#DYNAMIC} method; null if it is not reactive. */
    static @Nullable ReactiveAdapter adapterOf(Object returned) {
        return REACTIVE_TYPES.getAdapter(returned.getClass());
    }

    /**
     * The method named {@code name} of {@code targetClass} (any visibility, inherited too) that takes
     * the guarded method's parameters, optionally plus a last parameter that accepts a
     * {@link ResourceUnavailableException} (preferred when both exist), and whose return type fits;
     * null if there is none and {@code required} is false.
     *
     * @throws IllegalStateException if there is none and {@code required} is true
     */
    private static @Nullable Method findFallback(Method guarded, Class<?> targetClass, String name, String description,
                                                 boolean required) {
        Class<?>[] params = guarded.getParameterTypes();
        Method plain = null;
        Method withException = null;
        for (Method candidate : ReflectionUtils.getUniqueDeclaredMethods(targetClass, ReflectionUtils.USER_DECLARED_METHODS)) {
            if (!candidate.getName().equals(name) || candidate.equals(guarded)) {
                continue;
            }
            Class<?>[] p = candidate.getParameterTypes();
            if (Arrays.equals(p, params)) {
                plain = candidate;
            }
            else if (p.length == params.length + 1 && Arrays.equals(Arrays.copyOf(p, params.length), params)
                    && p[params.length].isAssignableFrom(ResourceUnavailableException.class)) {
                withException = candidate;
            }
        }
        Method fallback = withException != null ? withException : plain;
        if (!required && (fallback == null || !ClassUtils.isAssignable(guarded.getReturnType(), fallback.getReturnType()))) {
            return null;
        }
        if (fallback == null) {
            throw new IllegalStateException("fallbackMethod '" + name + "' of @Guarded " + description
                    + " not found: declare " + name + " with the same parameters, optionally followed by a"
                    + " ResourceUnavailableException parameter, in " + targetClass.getName());
        }
        if (!ClassUtils.isAssignable(guarded.getReturnType(), fallback.getReturnType())) {
            throw new IllegalStateException("fallbackMethod " + fallback + " of @Guarded " + description
                    + " returns " + fallback.getReturnType().getName() + ", which is not assignable to "
                    + guarded.getReturnType().getName());
        }
        return fallback;
    }

    /** For messages: {@code Search.find(String)}. */
    String description() {
        return this.description;
    }

    /** The resource name; null if it is named per call ({@link #resourceName(Object[])}). */
    @Nullable String resourceName() {
        return this.resourceName;
    }

    /**
     * The name of the resource that a call with {@code args} leases: the annotation's, or the value
     * of its {@code resourceExpression} over {@code args}.
     *
     * @throws IllegalStateException naming the method and the expression if the expression fails or
     *                               yields null or a blank string
     */
    String resourceName(Object[] args) {
        String name = this.resourceName;
        if (name != null) {
            return name;
        }
        Expression expression = Objects.requireNonNull(this.nameExpression);
        Object value;
        try {
            value = expression.getValue(new MethodBasedEvaluationContext(null, this.method, args, PARAMETER_NAMES));
        }
        catch (EvaluationException e) {
            throw new IllegalStateException(expressionFailure(expression) + " failed: " + e.getMessage()
                    + parameterNamesHint(), e);
        }
        name = value != null ? value.toString().trim() : null;
        if (name == null || name.isEmpty()) {
            throw new IllegalStateException(expressionFailure(expression) + " yielded "
                    + (value == null ? "null" : "'" + value + "'") + ", not a resource name" + parameterNamesHint());
        }
        return name;
    }

    private String expressionFailure(Expression expression) {
        return "@Guarded(resourceExpression = \"" + expression.getExpressionString() + "\") on " + this.description;
    }

    /** Why {@code #name} may be null: the method was compiled without {@code -parameters}. */
    private String parameterNamesHint() {
        return this.method.getParameterCount() > 0 && PARAMETER_NAMES.getParameterNames(this.method) == null
                ? " (the parameter names of this method are unknown: compile with -parameters, or write #p0, #p1, ...)"
                : "";
    }

    Kind kind() {
        return this.kind;
    }

    /** The declared return type's reactive adapter; non-null for {@link Kind#REACTIVE}. */
    @Nullable ReactiveAdapter adapter() {
        return this.adapter;
    }

    /** Whether a refusal without a fallback returns quietly (null) instead of failing. */
    boolean skipsRefusals() {
        return this.skipsRefusals;
    }

    boolean hasFallback() {
        return this.fallback != null;
    }

    /** Calls the fallback method on {@code target}; its exceptions propagate unwrapped. */
    Object callFallback(Object target, Object[] args, ResourceUnavailableException refusal) throws Throwable {
        Object[] fallbackArgs = args;
        if (this.fallbackTakesException) {
            fallbackArgs = Arrays.copyOf(args, args.length + 1);
            fallbackArgs[args.length] = refusal;
        }
        return AopUtils.invokeJoinpointUsingReflection(target, this.fallback, fallbackArgs);
    }

    @Override
    public String toString() {
        return (this.nameExpression != null
                ? "@Guarded(resourceExpression = \"" + this.nameExpression.getExpressionString() + "\") "
                : "@Guarded(\"" + this.resourceName + "\") ") + this.description + " [" + this.kind
                + (this.fallback != null ? ", fallback " + this.fallback.getName() : "") + "]";
    }
}
