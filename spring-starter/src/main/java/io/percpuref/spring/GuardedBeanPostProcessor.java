package io.percpuref.spring;

import io.percpuref.registry.RefRegistry;

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
import org.springframework.core.annotation.AnnotationAwareOrderComparator;
import org.springframework.util.ReflectionUtils;

import java.lang.reflect.Method;
import java.util.Objects;
import java.util.function.Supplier;

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
 * <p>The call path takes no lock and never blocks: a lookup in a concurrent map (lock-free for the
 * reads that every call after the first makes), then {@code RefRegistry.find} and a lease. It is
 * safe on virtual threads.
 */
public class GuardedBeanPostProcessor extends AbstractBeanFactoryAwareAdvisingPostProcessor {

    private static final long serialVersionUID = 1L;

    /** Default order of the advisor: outside advisors of default (lowest) order. */
    public static final int DEFAULT_ORDER = 0;

    /** Where the guard applies; stateless, shared by the advisor and the validation. */
    static final Pointcut POINTCUT = guardedPointcut();

    private final transient GuardInterceptor interceptor;

    /**
     * @param registry     supplies the registry whose resources are leased; called at the first
     *                     guarded call, not before
     * @param advisorOrder the advisor's order among the other advisors of a proxy
     * @throws NullPointerException if {@code registry} is null
     */
    public GuardedBeanPostProcessor(Supplier<RefRegistry> registry, int advisorOrder) {
        this.interceptor = new GuardInterceptor(Objects.requireNonNull(registry, "registry"));
        DefaultPointcutAdvisor guardAdvisor = new DefaultPointcutAdvisor(POINTCUT, this.interceptor);
        guardAdvisor.setOrder(advisorOrder);
        this.advisor = guardAdvisor;
    }

    /** The advisor's order among the other advisors of a proxy. */
    public int getAdvisorOrder() {
        return ((DefaultPointcutAdvisor) guardAdvisor()).getOrder();
    }

    @Override
    public void setBeanFactory(BeanFactory beanFactory) {
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
