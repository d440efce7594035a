package io.percpuref.spring.guard;

import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.GuardedResource;

import org.springframework.aop.framework.AopProxyUtils;
import org.springframework.aop.support.AopUtils;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.BeanFactoryAware;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.beans.factory.support.DefaultSingletonBeanRegistry;
import org.springframework.beans.factory.support.RootBeanDefinition;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.AnnotatedElementUtils;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Registers every {@link GuardedResource @GuardedResource} singleton in the {@link RefRegistry} and
 * makes its destruction the resource's release action.
 *
 * <h2>Protocol</h2>
 * <ol>
 *   <li>After initialization of a bean whose class (or {@code @Bean} method) is annotated, a
 *   singleton callback is registered for its name. Spring calls it once the bean is complete, that
 *   is after Spring has registered the bean's destruction callbacks.</li>
 *   <li>The callback registers the exposed bean (the proxy, if any) under the annotation's name, with
 *   the release action {@code beanFactory.destroyBean(name, target)}: Spring's own destruction of the
 *   raw instance ({@code @PreDestroy}, {@code DisposableBean}, {@code AutoCloseable}, destroy
 *   methods), run once, when the resource has been killed and drained.</li>
 *   <li>It then replaces the bean's destruction callback in the bean factory with a
 *   {@link GuardedResourceDisposer}, so that Spring's context close never destroys the bean
 *   itself: it only kills the resource if nobody has (waiting up to the shutdown timeout for the
 *   drain, whose release action destroys the bean).</li>
 * </ol>
 * So the destruction runs exactly once, after the last guarded call, whether the resource was killed
 * by the shutdown lifecycle, by the actuator endpoint, by application code or by the context close.
 *
 * <p>Limits: only singletons; the bean factory must be a {@link DefaultSingletonBeanRegistry} (every
 * Spring Boot application's is); the singleton callback of a bean name is exclusive, so another
 * library that sets one for the same bean replaces ours (or we replace it).
 */
public class GuardedResourceRegistrar implements BeanPostProcessor, BeanFactoryAware, Ordered {

    private final Supplier<RefRegistry> registry;
    private final Duration shutdownTimeout;
    private ConfigurableListableBeanFactory beanFactory;

    /**
     * @param registry        supplies the registry to register the resources in; called when the
     *                        first guarded resource is created
     * @param shutdownTimeout how long a context close waits for the drain of a resource that nobody
     *                        had killed before (normally the shutdown lifecycle has)
     * @throws NullPointerException if an argument is null
     */
    public GuardedResourceRegistrar(Supplier<RefRegistry> registry, Duration shutdownTimeout) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.shutdownTimeout = Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
    }

    @Override
    public void setBeanFactory(BeanFactory beanFactory) {
        if (!(beanFactory instanceof ConfigurableListableBeanFactory clbf) || !(beanFactory instanceof DefaultSingletonBeanRegistry)) {
            throw new IllegalStateException("@GuardedResource needs a DefaultListableBeanFactory, not " + beanFactory);
        }
        this.beanFactory = clbf;
    }

    @Override
    public int getOrder() {
        return Ordered.LOWEST_PRECEDENCE;
    }

    @Override
    public Object postProcessAfterInitialization(Object bean, String beanName) {
        GuardedResource annotation = findAnnotation(bean, beanName);
        if (annotation == null) {
            return bean;
        }
        if (!this.beanFactory.containsBeanDefinition(beanName)
                || !this.beanFactory.getMergedBeanDefinition(beanName).isSingleton()) {
            throw new IllegalStateException("@GuardedResource bean '" + beanName + "' must be a singleton");
        }
        String name = this.beanFactory.resolveEmbeddedValue(annotation.name());
        if (name == null || name.isBlank()) {
            throw new IllegalStateException("@GuardedResource bean '" + beanName + "' has an empty name");
        }
        RefRegistry refs = Objects.requireNonNull(this.registry.get(), "no RefRegistry to register resources in");
        if (refs.find(name.trim()).isPresent()) {
            // Checked here, where failing the bean's creation is clean; register() checks again.
            throw new IllegalStateException("@GuardedResource bean '" + beanName + "': a resource named '"
                    + name.trim() + "' is already registered");
        }
        this.beanFactory.addSingletonCallback(beanName, exposed -> register(refs, name.trim(), beanName, exposed));
        return bean;
    }

    private void register(RefRegistry refs, String name, String beanName, Object exposed) {
        Object target = unwrap(exposed);
        ManagedResource<Object> resource = refs.register(name, exposed,
                r -> this.beanFactory.destroyBean(beanName, target));
        ((DefaultSingletonBeanRegistry) this.beanFactory).registerDisposableBean(beanName,
                new GuardedResourceDisposer(resource, beanName, this.shutdownTimeout));
    }

    /** The raw instance behind Spring AOP proxies: what Spring itself would destroy. */
    private static Object unwrap(Object bean) {
        Object current = bean;
        Object target = AopProxyUtils.getSingletonTarget(current);
        while (target != null) {
            current = target;
            target = AopProxyUtils.getSingletonTarget(current);
        }
        return current;
    }

    private GuardedResource findAnnotation(Object bean, String beanName) {
        GuardedResource onClass = AnnotatedElementUtils.findMergedAnnotation(AopUtils.getTargetClass(bean), GuardedResource.class);
        if (onClass != null || !this.beanFactory.containsBeanDefinition(beanName)) {
            return onClass;
        }
        BeanDefinition definition = this.beanFactory.getMergedBeanDefinition(beanName);
        if (definition instanceof RootBeanDefinition root) {
            Method factoryMethod = root.getResolvedFactoryMethod();
            if (factoryMethod != null) {
                return AnnotatedElementUtils.findMergedAnnotation(factoryMethod, GuardedResource.class);
            }
        }
        return null;
    }
}
