package io.percpuref.spring;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.percpuref.ResourceUnavailableException;
import io.percpuref.micrometer.PercpuRefMetrics;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.actuate.PercpuRefsEndpoint;
import io.percpuref.spring.actuate.PercpuRefsHealthIndicator;
import io.percpuref.spring.autoconfigure.PercpuRefActuatorAutoConfiguration;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import io.percpuref.spring.autoconfigure.PercpuRefProperties;
import io.percpuref.spring.guard.GuardedBeanPostProcessor;
import io.percpuref.spring.guard.GuardedResourceRegistrar;
import io.percpuref.spring.lifecycle.PercpuRefLifecycle;
import io.percpuref.spring.web.ResourceUnavailableExceptionHandler;
import org.junit.jupiter.api.Test;
import org.springframework.boot.actuate.autoconfigure.endpoint.EndpointAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.endpoint.web.WebEndpointAutoConfiguration;
import org.springframework.boot.actuate.endpoint.OperationType;
import org.springframework.boot.actuate.endpoint.web.ExposableWebEndpoint;
import org.springframework.boot.actuate.endpoint.web.WebEndpointsSupplier;
import org.springframework.boot.actuate.endpoint.web.WebOperation;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.aop.AopAutoConfiguration;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.assertj.AssertableWebApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** One test per condition of the auto-configuration (Spring Boot's own style). */
class PercpuRefAutoConfigurationTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class,
                    PercpuRefActuatorAutoConfiguration.class));

    @Test
    void defaultsProvideRegistryMetricsGuardLifecycleAndHealthIndicator() {
        this.runner.run(context -> {
            assertThat(context).hasSingleBean(RefRegistry.class)
                    .hasSingleBean(PercpuRefMetrics.class)
                    .hasSingleBean(GuardedBeanPostProcessor.class)
                    .hasSingleBean(GuardedResourceRegistrar.class)
                    .hasSingleBean(PercpuRefLifecycle.class)
                    .hasSingleBean(PercpuRefsHealthIndicator.class)
                    .hasBean("percpuRefsHealthIndicator");
            RefRegistry registry = context.getBean(RefRegistry.class);
            assertThat(registry.leakDetection()).isEqualTo(LeakDetection.SIMPLE);
            assertThat(registry.stuckThreshold()).isEqualTo(Duration.ofSeconds(60));
            PercpuRefLifecycle lifecycle = context.getBean(PercpuRefLifecycle.class);
            assertThat(lifecycle.getPhase()).isEqualTo(PercpuRefLifecycle.DEFAULT_PHASE);
            assertThat(lifecycle.getTimeout()).isEqualTo(Duration.ofSeconds(30));
            assertThat(lifecycle.isRunning()).isTrue();
            assertThat(context.getBean(GuardedBeanPostProcessor.class).getAdvisorOrder())
                    .isEqualTo(GuardedBeanPostProcessor.DEFAULT_ORDER);
        });
    }

    @Test
    void endpointIsNotCreatedUnlessExposed() {
        this.runner.run(context -> assertThat(context).doesNotHaveBean(PercpuRefsEndpoint.class));
    }

    @Test
    void endpointIsCreatedWhenExposedOverHttp() {
        this.runner.withPropertyValues("management.endpoints.web.exposure.include=percpurefs")
                .run(context -> assertThat(context).hasSingleBean(PercpuRefsEndpoint.class));
    }

    @Test
    void endpointIsNotCreatedWhenItsAccessIsNone() {
        this.runner.withPropertyValues("management.endpoints.web.exposure.include=percpurefs",
                        "management.endpoint.percpurefs.access=NONE")
                .run(context -> assertThat(context).doesNotHaveBean(PercpuRefsEndpoint.class));
    }

    @Test
    void stuckStatusOfTheHealthIndicatorIsConfigurable() {
        this.runner.withPropertyValues("percpu-ref.health.stuck-status=out_of_service", "percpu-ref.stuck-threshold=1ms")
                .run(context -> {
                    RefRegistry registry = context.getBean(RefRegistry.class);
                    ManagedResource<Object> stuck = registry.register("stuck", new Object(), r -> { });
                    Lease<Object> lease = stuck.acquire();
                    stuck.kill();
                    await().until(() -> context.getBean(PercpuRefsHealthIndicator.class).health().getStatus()
                            .equals(Status.OUT_OF_SERVICE));
                    lease.close();
                });
    }

    @Test
    void endpointIsReadOnlyByDefaultSoTheKillNeedsAnOptIn() {
        webEndpoints()
                .withPropertyValues("management.endpoints.web.exposure.include=percpurefs")
                .run(context -> assertThat(operationsOfPercpurefs(context)).containsOnly(OperationType.READ));
    }

    @Test
    void endpointKillIsAvailableWhenAccessIsUnrestricted() {
        webEndpoints()
                .withPropertyValues("management.endpoints.web.exposure.include=percpurefs",
                        "management.endpoint.percpurefs.access=UNRESTRICTED")
                .run(context -> assertThat(operationsOfPercpurefs(context)).contains(OperationType.READ, OperationType.WRITE));
    }

    @Test
    void theLeakDetectionChangeIsAWriteOnTheEndpointsRootAvailableOnlyWithUnrestrictedAccess() {
        webEndpoints()
                .withPropertyValues("management.endpoints.web.exposure.include=percpurefs",
                        "management.endpoint.percpurefs.access=UNRESTRICTED")
                .run(context -> assertThat(writePathsOfPercpurefs(context))
                        .containsExactlyInAnyOrder("percpurefs", "percpurefs/{name}"));
        webEndpoints()
                .withPropertyValues("management.endpoints.web.exposure.include=percpurefs")
                .run(context -> assertThat(writePathsOfPercpurefs(context)).isEmpty());
    }

    private static List<String> writePathsOfPercpurefs(AssertableWebApplicationContext context) {
        ExposableWebEndpoint endpoint = context.getBean(WebEndpointsSupplier.class).getEndpoints().stream()
                .filter(e -> e.getEndpointId().toString().equals("percpurefs")).findFirst().orElseThrow();
        return endpoint.getOperations().stream().filter(o -> o.getType() == OperationType.WRITE)
                .map(o -> o.getRequestPredicate().getPath()).toList();
    }

    private static WebApplicationContextRunner webEndpoints() {
        return new WebApplicationContextRunner().withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class,
                PercpuRefActuatorAutoConfiguration.class, EndpointAutoConfiguration.class, WebEndpointAutoConfiguration.class));
    }

    private static List<OperationType> operationsOfPercpurefs(AssertableWebApplicationContext context) {
        ExposableWebEndpoint endpoint = context.getBean(WebEndpointsSupplier.class).getEndpoints().stream()
                .filter(e -> e.getEndpointId().toString().equals("percpurefs")).findFirst().orElseThrow();
        return endpoint.getOperations().stream().map(WebOperation::getType).toList();
    }

    @Test
    void healthIndicatorCanBeDisabled() {
        this.runner.withPropertyValues("management.health.percpurefs.enabled=false")
                .run(context -> assertThat(context).doesNotHaveBean(PercpuRefsHealthIndicator.class));
    }

    @Test
    void propertiesConfigureTheBeans() {
        this.runner.withPropertyValues("percpu-ref.leak-detection=paranoid", "percpu-ref.stuck-threshold=5s",
                "percpu-ref.shutdown.timeout=7s", "percpu-ref.shutdown.phase=42", "percpu-ref.guard.order=-5",
                "percpu-ref.metrics.per-ref=true").run(context -> {
            RefRegistry registry = context.getBean(RefRegistry.class);
            assertThat(registry.leakDetection()).isEqualTo(LeakDetection.PARANOID);
            assertThat(registry.stuckThreshold()).isEqualTo(Duration.ofSeconds(5));
            assertThat(context.getBean(PercpuRefLifecycle.class).getPhase()).isEqualTo(42);
            assertThat(context.getBean(PercpuRefLifecycle.class).getTimeout()).isEqualTo(Duration.ofSeconds(7));
            assertThat(context.getBean(GuardedBeanPostProcessor.class).getAdvisorOrder()).isEqualTo(-5);
            SimpleMeterRegistry meters = new SimpleMeterRegistry();
            context.getBean(PercpuRefMetrics.class).bindTo(meters);
            registry.register("per-ref", new Object(), r -> { });
            assertThat(meters.find(PercpuRefMetrics.IN_FLIGHT).tag("ref", "per-ref").gauge()).isNotNull();
        });
    }

    @Test
    void userRegistryBacksOffAndIsUsedByTheOtherBeans() {
        this.runner.withUserConfiguration(UserRegistry.class).run(context -> {
            assertThat(context).hasSingleBean(RefRegistry.class).hasBean("userRegistry");
            RefRegistry registry = context.getBean(RefRegistry.class);
            registry.register("user-ref", new Object(), r -> { });
            Health health = context.getBean(PercpuRefsHealthIndicator.class).health();
            assertThat(health.getDetails()).containsEntry("live", 1L);
        });
    }

    @Test
    void userMetricsBackOff() {
        this.runner.withUserConfiguration(UserMetrics.class).run(context ->
                assertThat(context).hasSingleBean(PercpuRefMetrics.class).hasBean("userMetrics"));
    }

    @Test
    void userGuardPostProcessorBacksOff() {
        this.runner.withUserConfiguration(UserGuard.class).run(context -> {
            assertThat(context).hasSingleBean(GuardedBeanPostProcessor.class).hasBean("userGuard");
            assertThat(context.getBean(GuardedBeanPostProcessor.class).getAdvisorOrder()).isEqualTo(77);
        });
    }

    @Test
    void userResourceRegistrarBacksOff() {
        this.runner.withUserConfiguration(UserRegistrar.class).run(context ->
                assertThat(context).hasSingleBean(GuardedResourceRegistrar.class).hasBean("userRegistrar"));
    }

    @Test
    void userLifecycleBacksOff() {
        this.runner.withUserConfiguration(UserLifecycle.class).run(context -> {
            assertThat(context).hasSingleBean(PercpuRefLifecycle.class).hasBean("userLifecycle");
            assertThat(context.getBean(PercpuRefLifecycle.class).getPhase()).isEqualTo(5);
        });
    }

    @Test
    void userEndpointBacksOff() {
        this.runner.withUserConfiguration(UserEndpoint.class)
                .withPropertyValues("management.endpoints.web.exposure.include=percpurefs")
                .run(context -> assertThat(context).hasSingleBean(PercpuRefsEndpoint.class).hasBean("userEndpoint"));
    }

    @Test
    void userHealthIndicatorOfTheSameNameBacksOff() {
        this.runner.withUserConfiguration(UserHealthIndicator.class).run(context -> {
            assertThat(context).doesNotHaveBean(PercpuRefsHealthIndicator.class);
            assertThat(context.getBean("percpuRefsHealthIndicator", HealthIndicator.class).health())
                    .isEqualTo(Health.outOfService().build());
        });
    }

    @Test
    void userHealthIndicatorOfTheSameTypeBacksOff() {
        this.runner.withUserConfiguration(UserHealthIndicatorOfType.class).run(context ->
                assertThat(context).hasSingleBean(PercpuRefsHealthIndicator.class).hasBean("myRefsHealth"));
    }

    @Test
    void disabledTurnsEverythingOff() {
        this.runner.withPropertyValues("percpu-ref.enabled=false",
                "management.endpoints.web.exposure.include=percpurefs").run(context ->
                assertThat(context).doesNotHaveBean(PercpuRefProperties.class)
                        .doesNotHaveBean(RefRegistry.class)
                        .doesNotHaveBean(PercpuRefMetrics.class)
                        .doesNotHaveBean(GuardedBeanPostProcessor.class)
                        .doesNotHaveBean(GuardedResourceRegistrar.class)
                        .doesNotHaveBean(PercpuRefLifecycle.class)
                        .doesNotHaveBean(PercpuRefsEndpoint.class)
                        .doesNotHaveBean(PercpuRefsHealthIndicator.class));
    }

    @Test
    void withoutMicrometerThereIsNoMeterBinderAndTheRestWorks() {
        this.runner.withClassLoader(new FilteredClassLoader("io.micrometer")).run(context ->
                assertThat(context).doesNotHaveBean(PercpuRefMetrics.class)
                        .hasSingleBean(RefRegistry.class)
                        .hasSingleBean(GuardedBeanPostProcessor.class)
                        .hasSingleBean(PercpuRefLifecycle.class));
    }

    @Test
    void withoutActuatorThereIsNoEndpointNorHealthIndicatorAndTheRestWorks() {
        this.runner.withClassLoader(new FilteredClassLoader("org.springframework.boot.actuate",
                        "org.springframework.boot.health"))
                .withPropertyValues("management.endpoints.web.exposure.include=percpurefs")
                .run(context -> assertThat(context).doesNotHaveBean(PercpuRefsEndpoint.class)
                        .doesNotHaveBean(PercpuRefsHealthIndicator.class)
                        .hasSingleBean(RefRegistry.class)
                        .hasSingleBean(PercpuRefMetrics.class)
                        .hasSingleBean(PercpuRefLifecycle.class));
    }

    @Test
    void withoutAspectJGuardedMethodsStillWork() {
        this.runner.withConfiguration(AutoConfigurations.of(AopAutoConfiguration.class))
                .withClassLoader(new FilteredClassLoader("org.aspectj"))
                .withUserConfiguration(GuardedMethodsTests.Resources.class)
                .run(context -> {
                    GuardedMethodsTests.Service service = context.getBean(GuardedMethodsTests.Service.class);
                    assertThat(service.echo("x")).isEqualTo("echo x");
                    context.getBean(RefRegistry.class).find("db").orElseThrow().kill();
                    assertThatThrownBy(() -> service.echo("y")).isInstanceOf(ResourceUnavailableException.class);
                });
    }

    @Test
    void nonWebApplicationHasNoExceptionHandler() {
        this.runner.run(context -> assertThat(context).doesNotHaveBean(ResourceUnavailableExceptionHandler.class));
    }

    @Test
    void webApplicationHasTheExceptionHandler() {
        webRunner().run(context -> assertThat(context).hasSingleBean(ResourceUnavailableExceptionHandler.class));
    }

    @Test
    void exceptionHandlerCanBeSwitchedOff() {
        webRunner().withPropertyValues("percpu-ref.web.exception-handler=false")
                .run(context -> assertThat(context).doesNotHaveBean(ResourceUnavailableExceptionHandler.class));
    }

    @Test
    void userExceptionHandlerBacksOff() {
        webRunner().withUserConfiguration(UserExceptionHandler.class).run(context ->
                assertThat(context).hasSingleBean(ResourceUnavailableExceptionHandler.class).hasBean("userHandler"));
    }

    private static WebApplicationContextRunner webRunner() {
        return new WebApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class));
    }

    @Configuration(proxyBeanMethods = false)
    static class UserRegistry {
        @Bean
        RefRegistry userRegistry() {
            return RefRegistry.builder().build();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserMetrics {
        @Bean
        PercpuRefMetrics userMetrics(RefRegistry registry) {
            return new PercpuRefMetrics(registry);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserGuard {
        @Bean
        static GuardedBeanPostProcessor userGuard() {
            return new GuardedBeanPostProcessor(() -> null, 77);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserRegistrar {
        @Bean
        static GuardedResourceRegistrar userRegistrar() {
            return new GuardedResourceRegistrar(() -> null, Duration.ofSeconds(1));
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserLifecycle {
        @Bean
        PercpuRefLifecycle userLifecycle(RefRegistry registry) {
            return new PercpuRefLifecycle(registry, Duration.ofSeconds(1), 5);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserEndpoint {
        @Bean
        PercpuRefsEndpoint userEndpoint(RefRegistry registry) {
            return new PercpuRefsEndpoint(registry);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserHealthIndicator {
        @Bean
        HealthIndicator percpuRefsHealthIndicator() {
            return () -> Health.outOfService().build();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserHealthIndicatorOfType {
        @Bean
        PercpuRefsHealthIndicator myRefsHealth(RefRegistry registry) {
            return new PercpuRefsHealthIndicator(registry);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserExceptionHandler {
        @Bean
        ResourceUnavailableExceptionHandler userHandler() {
            return new ResourceUnavailableExceptionHandler();
        }
    }
}
