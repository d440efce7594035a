package io.percpuref.spring.guard;

import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.Guarded;
import io.percpuref.spring.GuardedResource;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.jspecify.annotations.Nullable;
import org.springframework.aop.Advisor;
import org.springframework.aop.Pointcut;
import org.springframework.aop.framework.AdvisedSupport;
import org.springframework.aop.framework.Advised;
import org.springframework.aop.framework.AopInfrastructureBean;
import org.springframework.aop.framework.autoproxy.AbstractBeanFactoryAwareAdvisingPostProcessor;
import org.springframework.aop.support.AopUtils;
import org.springframework.aop.support.ComposablePointcut;
import org.springframework.aop.support.DefaultPointcutAdvisor;
import org.springframework.aop.support.StaticMethodMatcher;
import org.springframework.aop.support.annotation.AnnotationClassFilter;
import org.springframework.aop.support.annotation.AnnotationMatchingPointcut;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.config.ConfigurableBeanFactory;
import org.springframework.context.ApplicationListener;
import org.springframework.context.event.ContextRefreshedEvent;
import org.springframework.core.annotation.AnnotationAwareOrderComparator;
import org.springframework.util.ReflectionUtils;

import java.lang.reflect.Method;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Applies {@link Guarded @Guarded}: a bean post-processor that adds one advisor (pointcut: methods
 * and types annotated {@code @Guarded}; advice: lease the named resource around the call) to every
 * bean that has a guarded method, in the way Spring Framework 7 applies
 * {@code @ConcurrencyLimit} and {@code @Retryable}. No AspectJ is needed; the proxy is a JDK or a
 * CGLIB proxy according to the application's proxy configuration ({@code spring.aop.proxy-target-class}).
 *
 * <h2>Where the guard sits among other advisors</h2>
 * The advisor has an order, {@code percpu-ref.guard.order} (default {@value #DEFAULT_ORDER}). This
 * post-processor runs after the usual ones (its own order is {@link #LOWEST_PRECEDENCE}), so when a
 * bean is already a proxy (an AspectJ auto-proxy, {@code @Transactional}, {@code @ConcurrencyLimit},
 * Resilience4j's aspects) the advisor is inserted into that proxy's chain before the first advisor
 * with a higher order: lower orders run outside, higher orders inside. An advising post-processor
 * that runs later and insists on being first (for example {@code @Async}) still goes outside.
 *
 * <h2>Validation</h2>
 * Every guarded method of a bean is resolved when the bean is proxied: a bare {@code @Guarded}
 * outside a {@link GuardedResource} class, a {@code fallbackMethod} that does not exist or does
 * not fit, a {@code @Guarded} method that the proxy cannot intercept (private, static, or final on
 * a class proxy; a final method covered by a type-level {@code @Guarded} too) fails the bean's
 * creation with a message naming the method.
 *
 * <p>Resource names are checked once the application context has been refreshed (resources may be
 * registered during startup, after the guarded bean was created): a guarded name under which
 * nothing is registered then fails the startup, or, with
 * {@link #setUnknownResourceFails(boolean) unknownResourceFails} off
 * ({@code percpu-ref.guard.unknown-resource=warn}, for resources registered later at run time), is
 * logged as a warning. Until it is registered, calls guarded by that name are refused.
 *
 * <p>The call path takes no lock and never blocks: a lookup in a concurrent map (lock-free for the
 * reads that every call after the first makes), then {@code RefRegistry.find} and a lease. It is
 * safe on virtual threads.
 */
public class GuardedBeanPostProcessor extends AbstractBeanFactoryAwareAdvisingPostProcessor
        implements ApplicationListener<ContextRefreshedEvent> {

    private static final long serialVersionUID = 1L;

    /** Default order of the advisor: outside advisors of default (lowest) order. */
    public static final int DEFAULT_ORDER = 0;

    /** Where the guard applies; stateless, shared by the advisor and the validation. */
    static final Pointcut POINTCUT = guardedPointcut();

    private static final Log logger = LogFactory.getLog(GuardedBeanPostProcessor.class);

    private final transient GuardInterceptor interceptor;

    /** The registry, for the check of the resource names after the refresh. */
    private final transient Supplier<RefRegistry> registry;

    /** The bean factory of the context whose refresh triggers the check (not a child's). */
    private transient BeanFactory ownBeanFactory;

    /** Whether an unknown resource name fails the startup (true) or is only logged. */
    private boolean unknownResourceFails = true;

    /**
     * @param registry     supplies the registry whose resources are leased; called at the first
     *                     guarded call, not before
     * @param advisorOrder the advisor's order among the other advisors of a proxy
     * @throws NullPointerException if {@code registry} is null
     */
    public GuardedBeanPostProcessor(Supplier<RefRegistry> registry, int advisorOrder) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.interceptor = new GuardInterceptor(registry);
        DefaultPointcutAdvisor guardAdvisor = new DefaultPointcutAdvisor(POINTCUT, this.interceptor);
        guardAdvisor.setOrder(advisorOrder);
        this.advisor = guardAdvisor;
    }

    /**
     * Sets what supplies the observer of guarded calls (called at the first guarded call; null
     * result: calls are not observed).
     */
    public void setObserver(Supplier<@Nullable ObservationGuardObserver> observer) {
        this.interceptor.setObserver(observer::get);
    }

    /** The advisor's order among the other advisors of a proxy. */
    public int getAdvisorOrder() {
        return ((DefaultPointcutAdvisor) guardAdvisor()).getOrder();
    }

    /**
     * Whether a guarded resource name under which nothing is registered once the context has been
     * refreshed fails the startup ({@code true}, the default) or is only logged as a warning.
     */
    public void setUnknownResourceFails(boolean unknownResourceFails) {
        this.unknownResourceFails = unknownResourceFails;
    }

    /**
     * Checks that every guarded resource name resolved so far is registered.
     *
     * @throws IllegalStateException naming the unknown names and their methods, when
     *                               {@link #setUnknownResourceFails unknownResourceFails} is on
     */
    @Override
    public void onApplicationEvent(ContextRefreshedEvent event) {
        if (event.getApplicationContext().getAutowireCapableBeanFactory() != this.ownBeanFactory) {
            return;
        }
        Map<String, List<String>> unknown = this.interceptor.unregisteredNames(this.registry.get());
        if (unknown.isEmpty()) {
            return;
        }
        String message = "@Guarded names no registered resource once the application context has been refreshed: "
                + unknown.entrySet().stream().map(e -> "'" + e.getKey() + "' (" + String.join(", ", e.getValue()) + ")")
                .collect(Collectors.joining(", "))
                + ". Calls guarded by such a name are refused. Check the name for a typo, register the resource"
                + " (@GuardedResource, RefRegistry.register) during startup, or, if it is registered later at run"
                + " time, set percpu-ref.guard.unknown-resource=warn";
        if (this.unknownResourceFails) {
            throw new IllegalStateException(message);
        }
        logger.warn(message);
    }

    @Override
    public void setBeanFactory(BeanFactory beanFactory) {
        this.ownBeanFactory = beanFactory;
        super.setBeanFactory(beanFactory);
        if (beanFactory instanceof ConfigurableBeanFactory cbf) {
            this.interceptor.setValueResolver(cbf::resolveEmbeddedValue);
        }
    }

    @Override
    public Object postProcessAfterInitialization(Object bean, String beanName) {
        if (bean instanceof AopInfrastructureBean) {
            return bean;
        }
        Class<?> targetClass = AopUtils.getTargetClass(bean);
        if (!isEligible(targetClass)) {
            return bean;
        }
        this.interceptor.validate(targetClass);
        Object proxy;
        if (bean instanceof Advised advised && !advised.isFrozen()
                && advised.getTargetSource() != AdvisedSupport.EMPTY_TARGET_SOURCE) {
            advised.addAdvisor(insertionIndex(advised), guardAdvisor());
            proxy = bean;
        }
        else {
            proxy = super.postProcessAfterInitialization(bean, beanName);
        }
        this.interceptor.validateInterceptable(targetClass, AopUtils.isCglibProxy(proxy));
        return proxy;
    }

    /** Before the first existing advisor that sorts after ours (lower order = outside). */
    private int insertionIndex(Advised advised) {
        Advisor[] existing = advised.getAdvisors();
        for (int i = 0; i < existing.length; i++) {
            if (AnnotationAwareOrderComparator.INSTANCE.compare(guardAdvisor(), existing[i]) < 0) {
                return i;
            }
        }
        return existing.length;
    }

    private Advisor guardAdvisor() {
        return Objects.requireNonNull(this.advisor, "advisor");
    }

    /**
     * Methods annotated {@code @Guarded} (also through interfaces and superclasses), and every method
     * of a type annotated {@code @Guarded} except {@link Object}'s and the bean's own destroy
     * callbacks.
     */
    private static Pointcut guardedPointcut() {
        Pointcut typeLevel = new ComposablePointcut(new AnnotationClassFilter(Guarded.class, true),
                new NotLifecycleMethod());
        Pointcut methodLevel = new AnnotationMatchingPointcut(null, Guarded.class, true);
        return new ComposablePointcut(typeLevel).union(methodLevel);
    }

    /** Excludes what a type-level {@code @Guarded} must not guard: Object methods and destroy callbacks. */
    private static final class NotLifecycleMethod extends StaticMethodMatcher {
        @Override
        public boolean matches(Method method, Class<?> targetClass) {
            if (ReflectionUtils.isObjectMethod(method)) {
                return false;
            }
            if (method.getParameterCount() != 0) {
                return true;
            }
            boolean close = method.getName().equals("close") && AutoCloseable.class.isAssignableFrom(targetClass);
            boolean destroy = method.getName().equals("destroy") && DisposableBean.class.isAssignableFrom(targetClass);
            return !close && !destroy;
        }
    }
}
