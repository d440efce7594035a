package io.percpuref.spring.guard;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.Lease;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.Guarded;

import org.aopalliance.intercept.MethodInterceptor;
import org.aopalliance.intercept.MethodInvocation;
import org.jspecify.annotations.Nullable;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.springframework.aop.Pointcut;
import org.springframework.aop.support.AopUtils;
import org.springframework.core.MethodClassKey;
import org.springframework.core.ReactiveAdapter;
import org.springframework.core.annotation.AnnotatedElementUtils;
import org.springframework.util.ReflectionUtils;
import org.springframework.util.StringValueResolver;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The advice of {@link GuardedBeanPostProcessor}: leases the guarded method's resource for the
 * call, as {@link Guarded} describes for each return type.
 *
 * <p>Every call: one read of {@link #methods} (lock-free once the method has been resolved), one
 * {@link RefRegistry#acquire(String)} (a map read and the resource's {@code tryGetLive}),
 * then the invocation, then {@link Lease#close()}: at once for ordinary values; in a completion
 * action of the method's own stage, which alone ends the lease (the caller gets a dependent
 * future); or, for reactive types, at once for the body and per subscription afterwards. Nothing
 * here takes a lock or blocks, so guarded calls run unchanged on virtual threads. The lease is
 * acquired before the method body runs, so a call that starts after the resource's kill returned
 * never runs it (the kill is linearizable, see {@code PercpuRef}).
 *
 * <h2>Observation</h2>
 * With a {@link GuardObserver} (Micrometer's Observation API, see {@link GuardedCallContext}),
 * each call is one observation that ends when its lease ends: when the method returns or throws,
 * when its stage completes; for reactive return types, each subscription is the observed call
 * (from subscribe to complete, error or cancel), and the body only if it is refused or throws. A
 * refused call is observed as refused until the refusal's answer (the fallback's value, the failed
 * stage, the error signal) has been produced. A method declared to return {@code Object} that
 * returns a reactive type is observed until its body returns. Without an observer (the default) the
 * call allocates nothing for it.
 */
final class GuardInterceptor implements MethodInterceptor {

    private static final Log logger = LogFactory.getLog(GuardInterceptor.class);

    private final Supplier<RefRegistry> registrySupplier;
    /** The registry, once looked up (benign race: every thread gets the same singleton). */
    private volatile RefRegistry registry;
    /** Resolved guarded methods by (invoked method, target class). */
    private final ConcurrentHashMap<MethodClassKey, GuardedMethod> methods = new ConcurrentHashMap<>();
    /** Resolves placeholders in resource names; set by the post-processor before any proxy exists. */
    private volatile StringValueResolver valueResolver = value -> value;
    /** Supplies the observer of the calls, looked up at the first call (null: none). */
    private volatile Supplier<@Nullable GuardObserver> observerSupplier = () -> null;
    /** The observer, once looked up ({@link GuardObserver#NONE} if there is none). */
    private volatile @Nullable GuardObserver observer;

    GuardInterceptor(Supplier<RefRegistry> registrySupplier) {
        this.registrySupplier = registrySupplier;
    }

    void setValueResolver(StringValueResolver valueResolver) {
        this.valueResolver = Objects.requireNonNull(valueResolver, "valueResolver");
    }

    /** Sets what supplies the observer of the calls; called before any proxy exists. */
    void setObserver(Supplier<@Nullable GuardObserver> observer) {
        this.observerSupplier = Objects.requireNonNull(observer, "observer");
    }

    /** Resolves every guarded method of {@code targetClass} now, so that a misconfiguration fails at startup. */
    void validate(Class<?> targetClass) {
        Guarded typeLevel = AnnotatedElementUtils.findMergedAnnotation(targetClass, Guarded.class);
        boolean typeLevelFallback = typeLevel != null && !typeLevel.fallbackMethod().isEmpty();
        boolean typeLevelFallbackFits = false;
        for (Method m : guardedMethods(targetClass)) {
            if (proxiable(m)) {
                GuardedMethod guarded = guardedMethod(m, targetClass);
                typeLevelFallbackFits |= typeLevelFallback && guarded.hasFallback()
                        && !AnnotatedElementUtils.hasAnnotation(m, Guarded.class);
            }
        }
        if (typeLevelFallback && !typeLevelFallbackFits) {
            throw new IllegalStateException("fallbackMethod '" + typeLevel.fallbackMethod() + "' of the type-level @Guarded on "
                    + targetClass.getName() + " fits none of its methods: declare it with the parameters of the methods"
                    + " it stands in for, optionally followed by a ResourceUnavailableException parameter");
        }
    }

    /**
     * Fails if a method that {@code @Guarded} means to guard cannot be intercepted by the proxy: a
     * private or static method annotated itself, or (on a class proxy, which cannot override them)
     * a final method annotated itself or covered by a type-level annotation.
     *
     * @throws IllegalStateException naming the first such method
     */
    void validateInterceptable(Class<?> targetClass, boolean classProxy) {
        for (Method m : guardedMethods(targetClass)) {
            boolean annotated = AnnotatedElementUtils.hasAnnotation(m, Guarded.class);
            int modifiers = m.getModifiers();
            if (annotated && (Modifier.isPrivate(modifiers) || Modifier.isStatic(modifiers))) {
                throw new IllegalStateException("@Guarded " + GuardedMethod.describe(m, targetClass) + " is "
                        + (Modifier.isPrivate(modifiers) ? "private" : "static")
                        + ": a proxy cannot intercept it, so it would run unguarded");
            }
            if (classProxy && proxiable(m) && Modifier.isFinal(modifiers)) {
                throw new IllegalStateException("@Guarded " + GuardedMethod.describe(m, targetClass)
                        + " is final: the class proxy cannot override it, so it would run unguarded;"
                        + " make it non-final (or proxy an interface that declares it)");
            }
        }
    }

    /** The methods of {@code targetClass} that the pointcut matches. */
    private static List<Method> guardedMethods(Class<?> targetClass) {
        Pointcut pointcut = GuardedBeanPostProcessor.POINTCUT;
        List<Method> matched = new ArrayList<>();
        if (!pointcut.getClassFilter().matches(targetClass)) {
            return matched;
        }
        for (Method m : ReflectionUtils.getUniqueDeclaredMethods(targetClass, ReflectionUtils.USER_DECLARED_METHODS)) {
            if (pointcut.getMethodMatcher().matches(m, targetClass)) {
                matched.add(m);
            }
        }
        return matched;
    }

    /** Whether a proxy may route calls of {@code m} to the advice: neither private nor static. */
    private static boolean proxiable(Method m) {
        return !Modifier.isPrivate(m.getModifiers()) && !Modifier.isStatic(m.getModifiers());
    }

    @Override
    public Object invoke(MethodInvocation invocation) throws Throwable {
        Object target = invocation.getThis();
        Class<?> targetClass = target != null ? AopUtils.getTargetClass(target) : invocation.getMethod().getDeclaringClass();
        GuardedMethod guarded = guardedMethod(invocation.getMethod(), targetClass);
        String name = guarded.resourceName(invocation.getArguments());
        // Reactive: each subscription is the observed call; the body (assembly) only if it is refused or throws.
        GuardObserver.Call call = guarded.kind() == GuardedMethod.Kind.REACTIVE ? null
                : startObservation(name, invocation, targetClass);
        Lease<?> lease;
        try {
            lease = acquire(name);
        }
        catch (ResourceUnavailableException refused) {
            if (call == null) {
                call = startObservation(name, invocation, targetClass);
            }
            return refuse(invocation, guarded, refused, call);
        }
        catch (RuntimeException | Error e) { // no registry, say: the observation must not stay open
            stopObservation(call, e);
            throw e;
        }
        Object result;
        GuardObserver.Scope scope = call != null ? call.openScope() : null;
        try {
            result = invocation.proceed();
        }
        catch (Throwable t) {
            lease.close();
            if (call == null) {
                call = startObservation(name, invocation, targetClass);
            }
            if (call != null) {
                closeScope(scope);
                scope = null;
                call.stop(t);
            }
            throw t;
        }
        finally {
            closeScope(scope);
        }
        if (result == null || guarded.kind() == GuardedMethod.Kind.SYNC) {
            lease.close();
            stopObservation(call, null);
            return result;
        }
        return leaseFollows(result, lease, guarded, name, invocation, call);
    }

    /**
     * Hands the call's lease on to the work that {@code result} stands for: a stage keeps it until it
     * completes; for a reactive type the lease of the body ends now and each subscription takes one.
     * {@code call} (the observation of a stage, or of a {@code DYNAMIC} method's body) ends with the
     * lease it follows.
     */
    private Object leaseFollows(Object result, Lease<?> lease, GuardedMethod guarded, String name,
                                MethodInvocation invocation, GuardObserver.@Nullable Call call) {
        if (result instanceof CompletionStage<?> stage) {
            return leaseFollows(stage, lease, call);
        }
        lease.close();
        stopObservation(call, null);
        ReactiveAdapter adapter = guarded.kind() == GuardedMethod.Kind.REACTIVE ? guarded.adapter()
                : GuardedMethod.adapterOf(result);
        if (adapter == null) {
            return result;
        }
        return ReactorGuards.leasePerSubscription(this, invocation, guarded, name, adapter, result,
                guarded.kind() == GuardedMethod.Kind.REACTIVE);
    }

    /**
     * A new future that completes as {@code work} does, after {@code lease} has been closed (and
     * {@code call}, if observed, stopped: error if {@code work} failed). Only {@code work} ends the
     * lease: the caller's {@code cancel}, {@code complete}, {@code orTimeout} on the returned future
     * complete that future alone, and the method's own work keeps its lease until it is done. A
     * failure is passed on as {@code work} holds it (not wrapped again).
     */
    static CompletableFuture<Object> leaseFollows(CompletionStage<?> work, Lease<?> lease,
                                                  GuardObserver.@Nullable Call call) {
        CompletableFuture<Object> dependent = new CompletableFuture<>();
        work.whenComplete((value, failure) -> {
            lease.close();
            stopObservation(call, failure);
            if (failure != null) {
                dependent.completeExceptionally(failure);
            }
            else {
                dependent.complete(value);
            }
        });
        return dependent;
    }

    /** Starts the observation of one call leasing {@code name}; null if calls are not observed. */
    GuardObserver.@Nullable Call startObservation(String name, MethodInvocation invocation, Class<?> targetClass) {
        GuardObserver o = observer();
        return o == GuardObserver.NONE ? null
                : o.start(registry().name(), name, invocation.getMethod(), targetClass);
    }

    /** Starts the observation of one call leasing {@code name} on {@code invocation}'s target. */
    GuardObserver.@Nullable Call startObservation(String name, MethodInvocation invocation) {
        Object target = invocation.getThis();
        return startObservation(name, invocation,
                target != null ? AopUtils.getTargetClass(target) : invocation.getMethod().getDeclaringClass());
    }

    private static void stopObservation(GuardObserver.@Nullable Call call, @Nullable Throwable failure) {
        if (call != null) {
            call.stop(failure);
        }
    }

    private static void closeScope(GuardObserver.@Nullable Scope scope) {
        if (scope != null) {
            scope.close();
        }
    }

    /**
     * A lease on the guarded method's resource. Every refusal is counted in the registry's
     * rejections, whether the resource is dying, released, or its name was never registered
     * (possible only with {@code percpu-ref.guard.unknown-resource=warn}).
     *
     * @throws ResourceUnavailableException if the resource is dying or released, or nothing is
     *                                      registered under its name
     */
    Lease<?> acquire(String name) {
        return registry().acquire(name);
    }

    /**
     * The resolved guarded names under which nothing is registered in {@code refs} now, each with
     * the methods it guards, in name order. Names given by a {@code resourceExpression} are known
     * only per call, and not checked.
     */
    Map<String, List<String>> unregisteredNames(RefRegistry refs) {
        Map<String, List<String>> unknown = new TreeMap<>();
        for (GuardedMethod m : this.methods.values()) {
            if (m.resourceName() != null && refs.find(m.resourceName()).isEmpty()) {
                unknown.computeIfAbsent(m.resourceName(), n -> new ArrayList<>()).add(m.description());
            }
        }
        return unknown;
    }

    /**
     * The outcome of a refused call, observed by {@code call} (if not null) as refused: the
     * observation covers the refusal's answer (the fallback runs in its scope) and stops once that
     * answer has been produced.
     */
    Object refuse(MethodInvocation invocation, GuardedMethod guarded, ResourceUnavailableException refused,
                  GuardObserver.@Nullable Call call) throws Throwable {
        if (call == null) {
            return refuse(invocation, guarded, refused);
        }
        call.refused(refused);
        Throwable failure = null;
        try (GuardObserver.Scope scope = call.openScope()) {
            return refuse(invocation, guarded, refused);
        }
        catch (Throwable t) {
            failure = t;
            throw t;
        }
        finally {
            call.stop(failure);
        }
    }

    /**
     * The outcome of a refused call: the fallback's, or the refusal in the form the return type
     * takes (thrown, failed stage, error signal).
     */
    private Object refuse(MethodInvocation invocation, GuardedMethod guarded, ResourceUnavailableException refused)
            throws Throwable {
        if (guarded.hasFallback()) {
            return guarded.callFallback(invocation.getThis(), invocation.getArguments(), refused);
        }
        if (guarded.skipsRefusals()) {
            if (logger.isDebugEnabled()) {
                logger.debug("Skipped " + guarded.description() + ": " + refused.getMessage());
            }
            return null;
        }
        return switch (guarded.kind()) {
            case SYNC, DYNAMIC -> throw refused;
            case STAGE -> CompletableFuture.failedFuture(refused);
            case REACTIVE -> ReactorGuards.error(Objects.requireNonNull(guarded.adapter()), refused);
        };
    }

    private GuardedMethod guardedMethod(Method method, Class<?> targetClass) {
        MethodClassKey key = new MethodClassKey(method, targetClass);
        GuardedMethod guarded = this.methods.get(key);
        if (guarded == null) {
            // Resolved outside any lock; a racing thread resolves the same value.
            guarded = GuardedMethod.resolve(method, targetClass, this.valueResolver);
            GuardedMethod raced = this.methods.putIfAbsent(key, guarded);
            if (raced != null) {
                guarded = raced;
            }
        }
        return guarded;
    }

    private GuardObserver observer() {
        GuardObserver o = this.observer;
        if (o == null) {
            o = this.observerSupplier.get();
            o = o != null ? o : GuardObserver.NONE;
            this.observer = o;
        }
        return o;
    }

    private RefRegistry registry() {
        RefRegistry r = this.registry;
        if (r == null) {
            r = Objects.requireNonNull(this.registrySupplier.get(), "no RefRegistry to guard calls with");
            this.registry = r;
        }
        return r;
    }
}
