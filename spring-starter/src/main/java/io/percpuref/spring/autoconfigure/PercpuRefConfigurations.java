package io.percpuref.spring.autoconfigure;

import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.observation.ObservationRegistry;
import io.percpuref.micrometer.PercpuRefMetrics;
import io.percpuref.registry.RefListener;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.GuardedCallObservationConvention;
import io.percpuref.spring.GuardedResource;
import io.percpuref.spring.RefRegistryCustomizer;
import io.percpuref.spring.actuate.PercpuRefsEndpoint;
import io.percpuref.spring.actuate.PercpuRefsHealthIndicator;
import io.percpuref.spring.guard.GuardedBeanPostProcessor;
import io.percpuref.spring.guard.GuardedResourceRegistrar;
import io.percpuref.spring.guard.ObservationGuardObserver;
import io.percpuref.spring.lifecycle.PercpuRefLifecycle;
import io.percpuref.spring.web.ResourceUnavailableExceptionHandler;

import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.AnnotatedBeanDefinition;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.LazyInitializationExcludeFilter;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Role;
import org.springframework.core.annotation.AnnotatedElementUtils;
import org.springframework.core.env.Environment;
import org.springframework.http.ProblemDetail;

import java.util.Locale;
import java.util.concurrent.Executor;

/**
 * The parts that {@link PercpuRefAutoConfiguration} and {@link PercpuRefActuatorAutoConfiguration}
 * import, one per concern, each with its own conditions.
 */
final class PercpuRefConfigurations {

    private PercpuRefConfigurations() {
    }

    /** Binds the properties for the post-processors, which are created before property beans are. */
    private static PercpuRefProperties bind(Environment environment) {
        return Binder.get(environment).bindOrCreate("percpu-ref", PercpuRefProperties.class);
    }

    /**
     * The registry: the properties (and the callback executor they name, or the bean named
     * {@value PercpuRefAutoConfiguration#CALLBACK_EXECUTOR_BEAN_NAME}), then every
     * {@link RefRegistryCustomizer} bean in order, on its builder; once built, every
     * {@link RefListener} bean added as a listener, in order.
     */
    @Configuration(proxyBeanMethods = false)
    static class RegistryConfiguration {

        static final String REGISTRY_BEAN_NAME = "percpuRefRegistry";

        @Bean(REGISTRY_BEAN_NAME)
        @ConditionalOnMissingBean
        RefRegistry percpuRefRegistry(PercpuRefProperties properties, ConfigurableListableBeanFactory beanFactory,
                                      ObjectProvider<RefRegistryCustomizer> customizers,
                                      ObjectProvider<RefListener> listeners) {
            RefRegistry.Builder builder = RefRegistry.builder()
                    .name(properties.getName())
                    .leakDetection(properties.getLeakDetection())
                    .leakSamplingInterval(properties.getLeakSamplingInterval())
                    .reclaimLeaks(properties.isReclaimLeaks())
                    .stuckThreshold(properties.getStuckThreshold());
            Executor executor = callbackExecutor(properties.getCallbackExecutor(), beanFactory);
            if (executor != null) {
                builder.callbackExecutor(executor);
            }
            customizers.orderedStream().forEach(customizer -> customizer.customize(builder));
            RefRegistry registry = builder.build();
            listeners.orderedStream().forEach(registry::addListener);
            return registry;
        }

        /**
         * The executor bean named by {@code percpu-ref.callback-executor}, else the bean named
         * {@value PercpuRefAutoConfiguration#CALLBACK_EXECUTOR_BEAN_NAME}, else null (the
         * registry's own pool). The registry is made dependent on it, so that it is destroyed
         * (closed) before its executor.
         *
         * @throws IllegalStateException if the property names no bean, or a bean that is no {@link Executor}
         */
        private static @Nullable Executor callbackExecutor(@Nullable String configured,
                                                           ConfigurableListableBeanFactory beanFactory) {
            String name = configured != null && !configured.isBlank() ? configured.trim()
                    : beanFactory.containsBean(PercpuRefAutoConfiguration.CALLBACK_EXECUTOR_BEAN_NAME)
                    ? PercpuRefAutoConfiguration.CALLBACK_EXECUTOR_BEAN_NAME : null;
            if (name == null) {
                return null;
            }
            String source = configured != null && !configured.isBlank()
                    ? "percpu-ref.callback-executor=" + configured : "the bean named " + name;
            if (!beanFactory.containsBean(name)) {
                throw new IllegalStateException(source + ": there is no bean named '" + name
                        + "' to run the callbacks of the percpu-ref registry");
            }
            Class<?> type = beanFactory.getType(name);
            if (type != null && !Executor.class.isAssignableFrom(type)) {
                throw new IllegalStateException(source + ": bean '" + name + "' is a " + type.getName()
                        + ", not a java.util.concurrent.Executor; it cannot run the callbacks of the percpu-ref registry");
            }
            Executor executor = beanFactory.getBean(name, Executor.class);
            beanFactory.registerDependentBean(name, REGISTRY_BEAN_NAME);
            return executor;
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(MeterBinder.class)
    static class MetricsConfiguration {

        /** Spring Boot binds every {@code MeterBinder} bean to the application's meter registries. */
        @Bean
        @ConditionalOnMissingBean
        PercpuRefMetrics percpuRefMetrics(RefRegistry registry, PercpuRefProperties properties) {
            return new PercpuRefMetrics(registry,
                    PercpuRefMetrics.Options.defaults().perRefMetrics(properties.getMetrics().isPerRef()));
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class GuardConfiguration {

        @Bean
        @ConditionalOnMissingBean
        @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
        static GuardedBeanPostProcessor percpuRefGuardedBeanPostProcessor(Environment environment,
                                                                          ObjectProvider<RefRegistry> registry,
                                                                          ObjectProvider<ObservationGuardObserver> observer) {
            PercpuRefProperties.Guard guard = bind(environment).getGuard();
            GuardedBeanPostProcessor processor = new GuardedBeanPostProcessor(registry::getObject, guard.getOrder());
            processor.setObserver(observer::getIfUnique);
            processor.setUnknownResourceFails(guard.getUnknownResource() == PercpuRefProperties.Guard.UnknownResource.FAIL);
            return processor;
        }

        /**
         * Keeps {@code @GuardedResource} beans out of lazy initialization
         * ({@code spring.main.lazy-initialization=true}): a resource that nothing references would
         * never be created, never registered, and every call guarded by its name refused.
         */
        @Bean
        static LazyInitializationExcludeFilter percpuRefGuardedResourcesAreEager() {
            return (beanName, definition, beanType) -> (beanType != null
                    && AnnotatedElementUtils.hasAnnotation(beanType, GuardedResource.class))
                    || (definition instanceof AnnotatedBeanDefinition annotated
                    && annotated.getFactoryMethodMetadata() != null
                    && annotated.getFactoryMethodMetadata().isAnnotated(GuardedResource.class.getName()));
        }

        @Bean
        @ConditionalOnMissingBean
        @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
        static GuardedResourceRegistrar percpuRefGuardedResourceRegistrar(Environment environment,
                                                                          ObjectProvider<RefRegistry> registry) {
            return new GuardedResourceRegistrar(registry::getObject, bind(environment).getShutdown().getTimeout());
        }
    }

    /**
     * One Micrometer Observation per guarded call ({@link ObservationGuardObserver}), in the
     * application's {@code ObservationRegistry} (looked up at the first guarded call; with none,
     * or the no-op registry, calls are not observed).
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(ObservationRegistry.class)
    @ConditionalOnBooleanProperty(name = "percpu-ref.guard.observations.enabled", matchIfMissing = true)
    static class ObservationConfiguration {

        @Bean
        @ConditionalOnMissingBean
        @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
        static ObservationGuardObserver percpuRefGuardObserver(ObjectProvider<ObservationRegistry> registry,
                                                    ObjectProvider<GuardedCallObservationConvention> convention) {
            return new ObservationGuardObserver(registry::getIfUnique, convention::getIfUnique);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class LifecycleConfiguration {

        @Bean
        @ConditionalOnMissingBean
        PercpuRefLifecycle percpuRefLifecycle(RefRegistry registry, PercpuRefProperties properties) {
            PercpuRefLifecycle lifecycle = new PercpuRefLifecycle(registry, properties.getShutdown().getTimeout(),
                    properties.getShutdown().getPhase());
            lifecycle.setBudget(properties.getShutdown().getBudget());
            return lifecycle;
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnWebApplication
    @ConditionalOnClass(ProblemDetail.class)
    @ConditionalOnBooleanProperty(name = "percpu-ref.web.exception-handler", matchIfMissing = true)
    static class WebConfiguration {

        @Bean
        @ConditionalOnMissingBean
        ResourceUnavailableExceptionHandler percpuRefResourceUnavailableExceptionHandler(PercpuRefProperties properties) {
            return new ResourceUnavailableExceptionHandler(properties.getWeb().getRetryAfter());
        }
    }

    /**
     * The class condition guards the endpoint condition: Spring instantiates every condition of a
     * level before evaluating any, so the actuator's own condition sits on the method.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(Endpoint.class)
    @ConditionalOnBean(RefRegistry.class)
    static class EndpointConfiguration {

        @Bean
        @ConditionalOnMissingBean
        @ConditionalOnAvailableEndpoint(PercpuRefsEndpoint.class)
        PercpuRefsEndpoint percpuRefsEndpoint(RefRegistry registry) {
            return new PercpuRefsEndpoint(registry);
        }
    }

    /** As {@link EndpointConfiguration}: the class condition first, the health condition on the method. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(HealthIndicator.class)
    @ConditionalOnBean(RefRegistry.class)
    static class HealthConfiguration {

        /** The bean name makes the contributor name: {@code percpuRefs}. */
        @Bean
        @ConditionalOnEnabledHealthIndicator("percpurefs")
        @ConditionalOnMissingBean(value = PercpuRefsHealthIndicator.class, name = "percpuRefsHealthIndicator")
        PercpuRefsHealthIndicator percpuRefsHealthIndicator(RefRegistry registry, PercpuRefProperties properties) {
            String code = properties.getHealth().getStuckStatus().trim().toUpperCase(Locale.ROOT);
            return new PercpuRefsHealthIndicator(registry, new Status(code));
        }
    }
}
