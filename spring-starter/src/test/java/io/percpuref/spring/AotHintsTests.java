package io.percpuref.spring;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.actuate.PercpuRefsEndpoint;
import io.percpuref.spring.autoconfigure.PercpuRefActuatorAutoConfiguration;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import org.junit.jupiter.api.Test;
import org.springframework.aot.hint.MemberCategory;
import org.springframework.aot.hint.RuntimeHints;
import org.springframework.aot.hint.annotation.ReflectiveRuntimeHintsRegistrar;
import org.springframework.aot.hint.predicate.RuntimeHintsPredicates;
import org.springframework.aot.test.generate.TestGenerationContext;
import org.springframework.boot.actuate.autoconfigure.endpoint.EndpointAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.aot.ApplicationContextAotGenerator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.support.GenericApplicationContext;

import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Ahead-of-time processing (native images): the reflection hints that Spring's AOT processing of
 * an application with the starter registers cover {@code @Guarded} methods, their fallback methods
 * and the {@code percpurefs} endpoint; and the AOT-generated context, compiled and run, guards
 * calls and answers refusals with the fallback.
 */
class AotHintsTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class,
                    PercpuRefActuatorAutoConfiguration.class, EndpointAutoConfiguration.class))
            .withPropertyValues("management.endpoints.web.exposure.include=percpurefs")
            .withUserConfiguration(Services.class);

    @Test
    void guardedMethodsAreInvocable() {
        RuntimeHints hints = hints();
        assertThat(RuntimeHintsPredicates.reflection().onMethodInvocation(Catalog.class, "load")).accepts(hints);
        assertThat(RuntimeHintsPredicates.reflection().onType(Index.class)
                .withMemberCategory(MemberCategory.INVOKE_PUBLIC_METHODS)).accepts(hints);
    }

    @Test
    void fallbackMethodsAreInvocable() {
        RuntimeHints hints = hints();
        assertThat(RuntimeHintsPredicates.reflection().onMethodInvocation(Catalog.class, "cached")).accepts(hints);
        assertThat(RuntimeHintsPredicates.reflection().onMethodInvocation(Index.class, "empty")).accepts(hints);
    }

    /**
     * What {@code @Guarded}'s {@code @Reflective} processor contributes on its own (the AOT
     * processing of a CGLIB-proxied bean also registers its declared methods): the guarded
     * methods, every overload of their fallback's name, nothing else.
     */
    @Test
    void theGuardedProcessorRegistersGuardedMethodsAndTheirFallbacksOnly() {
        RuntimeHints hints = new RuntimeHints();
        new ReflectiveRuntimeHintsRegistrar().registerRuntimeHints(hints, Catalog.class, Index.class, Plain.class);
        assertThat(RuntimeHintsPredicates.reflection().onMethodInvocation(Catalog.class, "load")).accepts(hints);
        assertThat(RuntimeHintsPredicates.reflection().onMethodInvocation(Catalog.class, "cached")).accepts(hints);
        assertThat(RuntimeHintsPredicates.reflection().onMethodInvocation(Catalog.class, "notAFallback")).rejects(hints);
        assertThat(RuntimeHintsPredicates.reflection().onType(Index.class)
                .withMemberCategory(MemberCategory.INVOKE_PUBLIC_METHODS)).accepts(hints);
        assertThat(RuntimeHintsPredicates.reflection().onMethodInvocation(Index.class, "empty")).accepts(hints);
        assertThat(RuntimeHintsPredicates.reflection().onType(Plain.class)).rejects(hints);
    }

    @Test
    void theEndpointsOperationsAndTheirResultsAreCovered() {
        RuntimeHints hints = hints();
        for (String operation : new String[] {"refs", "ref", "kill", "leakDetection"}) {
            assertThat(RuntimeHintsPredicates.reflection().onMethodInvocation(PercpuRefsEndpoint.class, operation))
                    .as(operation).accepts(hints);
        }
        for (Class<?> descriptor : new Class<?>[] {PercpuRefsEndpoint.RefsDescriptor.class,
                PercpuRefsEndpoint.RefDescriptor.class, PercpuRefsEndpoint.KillDescriptor.class,
                PercpuRefsEndpoint.HoldersDescriptor.class, PercpuRefsEndpoint.HolderDescriptor.class,
                PercpuRefsEndpoint.LeakedDescriptor.class, PercpuRefsEndpoint.LeakDetectionDescriptor.class}) {
            assertThat(RuntimeHintsPredicates.reflection().onType(descriptor)).as(descriptor.getSimpleName()).accepts(hints);
        }
        assertThat(RuntimeHintsPredicates.reflection().onMethodInvocation(PercpuRefsEndpoint.RefDescriptor.class, "inFlight"))
                .accepts(hints);
    }

    /** The runtime hints of the AOT processing of the runner's context. */
    private RuntimeHints hints() {
        AtomicReference<RuntimeHints> hints = new AtomicReference<>();
        this.runner.prepare(prepared -> {
            TestGenerationContext generation = new TestGenerationContext();
            new ApplicationContextAotGenerator().processAheadOfTime(
                    prepared.getSourceApplicationContext(GenericApplicationContext.class), generation);
            hints.set(generation.getRuntimeHints());
        });
        return hints.get();
    }

    @Configuration(proxyBeanMethods = false)
    public static class Services {

        @Bean
        public Catalog catalog(RefRegistry registry) {
            registry.register("catalog", new Object(), r -> { });
            return new Catalog();
        }

        @Bean
        public Index index(RefRegistry registry) {
            registry.register("index", new Object(), r -> { });
            return new Index();
        }
    }

    public static class Catalog {

        @Guarded(value = "catalog", fallbackMethod = "cached")
        public String load(String key) {
            return "loaded " + key;
        }

        private String cached(String key) {
            return "cached " + key;
        }

        private String notAFallback(String key) {
            return "not a fallback " + key;
        }
    }

    /** Not guarded: no hints of its own. */
    public static class Plain {

        public String get() {
            return "plain";
        }
    }

    @Guarded(value = "index", fallbackMethod = "empty")
    public static class Index {

        public String search(String query) {
            return "hits for " + query;
        }

        public int count() {
            return 1;
        }

        String empty(String query, ResourceUnavailableException refused) {
            return "empty";
        }
    }
}
