package io.percpuref.spring;

import io.micrometer.observation.tck.TestObservationRegistry;
import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.micrometer.observation.tck.TestObservationRegistryAssert.assertThat;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code @Guarded(resourceExpression = ...)}: the resource named per call by a SpEL expression over
 * the method's arguments. One test per condition: by parameter name, by position, composed names,
 * each return type, fallbacks, the observation's key, and each way an expression can be wrong.
 */
class ResourceExpressionTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class))
            .withUserConfiguration(Shards.class);

    @Test
    void theArgumentNamesTheResource() {
        this.runner.run(context -> {
            ShardService shards = context.getBean(ShardService.class);
            assertThat(shards.read("a", "k")).isEqualTo("a:k held 1");
            assertThat(shards.read("b", "k")).isEqualTo("b:k held 1");
            registry(context).find("a").orElseThrow().kill();
            assertThatThrownBy(() -> shards.read("a", "k")).isInstanceOf(ResourceUnavailableException.class)
                    .hasMessageContaining("'a'");
            assertThat(shards.read("b", "k")).as("only the named resource is refused").isEqualTo("b:k held 1");
        });
    }

    @Test
    void argumentsByPosition() {
        this.runner.run(context -> assertThat(context.getBean(ShardService.class).byPosition("b", "k"))
                .isEqualTo("b:k held 1"));
    }

    @Test
    void composedNames() {
        this.runner.run(context -> {
            ShardService shards = context.getBean(ShardService.class);
            assertThat(shards.numbered(7)).isEqualTo("shard-7 held 1");
            registry(context).find("shard-7").orElseThrow().kill();
            assertThatThrownBy(() -> shards.numbered(7)).isInstanceOf(ResourceUnavailableException.class);
        });
    }

    @Test
    void aNameThatIsNotRegisteredIsRefusedAndCounted() {
        this.runner.run(context -> {
            assertThatThrownBy(() -> context.getBean(ShardService.class).read("nope", "k"))
                    .isInstanceOf(ResourceUnavailableException.class).hasMessageContaining("'nope'");
            assertThat(registry(context).rejectionCount()).isEqualTo(1);
        });
    }

    @Test
    void namesFromExpressionsAreNotCheckedAtStartup() {
        // unknown-resource=fail (the default) checks static names only: expression names exist per call.
        this.runner.run(context -> assertThat(context).hasNotFailed());
    }

    @Test
    void aStageHoldsTheLeaseOfItsNamedResource() {
        this.runner.run(context -> {
            CompletableFuture<String> work = new CompletableFuture<>();
            CompletableFuture<String> call = context.getBean(ShardService.class).async("a", work);
            assertThat(registry(context).find("a").orElseThrow().info().inFlight()).isEqualTo(1);
            assertThat(registry(context).find("b").orElseThrow().info().inFlight()).isZero();
            work.complete("done");
            assertThat(call).isCompletedWithValue("done");
            assertThat(registry(context).find("a").orElseThrow().info().inFlight()).isZero();
        });
    }

    @Test
    void eachSubscriptionLeasesTheNamedResource() {
        this.runner.run(context -> {
            ShardService shards = context.getBean(ShardService.class);
            Mono<String> mono = shards.reactive("b");
            StepVerifier.create(mono).expectNext("b held 1").verifyComplete();
            registry(context).find("b").orElseThrow().kill();
            StepVerifier.create(mono).expectError(ResourceUnavailableException.class).verify();
        });
    }

    @Test
    void aRefusedCallGoesToTheFallbackWithItsArguments() {
        this.runner.run(context -> {
            registry(context).find("a").orElseThrow().kill();
            assertThat(context.getBean(ShardService.class).withFallback("a")).isEqualTo("fallback a: a");
        });
    }

    @Test
    void theObservationCarriesTheEvaluatedName() {
        this.runner.withBean(TestObservationRegistry.class, TestObservationRegistry::create).run(context -> {
            ShardService shards = context.getBean(ShardService.class);
            shards.read("b", "k");
            registry(context).find("a").orElseThrow().kill();
            assertThatThrownBy(() -> shards.read("a", "k")).isInstanceOf(ResourceUnavailableException.class);
            TestObservationRegistry observations = context.getBean(TestObservationRegistry.class);
            assertThat(observations).hasNumberOfObservationsWithNameEqualTo("percpu.guarded.call", 2)
                    .hasAnObservationWithAKeyValue("resource", "b")
                    .hasAnObservation(o -> o.hasLowCardinalityKeyValue("resource", "a")
                            .hasLowCardinalityKeyValue("outcome", "refused"));
        });
    }

    @Test
    void aNullNameFailsTheCallNamingMethodAndExpression() {
        this.runner.run(context -> {
            ShardService shards = context.getBean(ShardService.class);
            assertThatThrownBy(() -> shards.read(null, "k")).isInstanceOf(IllegalStateException.class)
                    .hasMessage("@Guarded(resourceExpression = \"#shard\") on ResourceExpressionTests.ShardService.read(String, String)"
                            + " yielded null, not a resource name");
            assertThat(shards.calls()).as("the method did not run").isEmpty();
        });
    }

    @Test
    void aBlankNameFailsTheCallNamingMethodAndExpression() {
        this.runner.run(context -> assertThatThrownBy(() -> context.getBean(ShardService.class).read(" ", "k"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("@Guarded(resourceExpression = \"#shard\") on ResourceExpressionTests.ShardService.read(String, String)"
                        + " yielded ' ', not a resource name"));
    }

    @Test
    void anExpressionThatFailsFailsTheCallNamingMethodAndExpression() {
        this.runner.run(context -> assertThatThrownBy(() -> context.getBean(ShardService.class).tenant(null))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("@Guarded(resourceExpression = \"#tenant.name\") on ResourceExpressionTests.ShardService.tenant(Tenant)"
                        + " failed: ")
                .hasCauseInstanceOf(org.springframework.expression.EvaluationException.class));
    }

    @Test
    void anExpressionThatDoesNotParseFailsTheStartup() {
        new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class))
                .withUserConfiguration(Unparsable.class)
                .run(context -> assertThat(context).getFailure()
                        .hasStackTraceContaining("IllegalStateException: @Guarded(resourceExpression = \"#shard +\") on"
                                + " ResourceExpressionTests.BadShards.read(String) cannot be parsed: Expression [#shard +] @7: EL1042E")
                        .hasRootCauseInstanceOf(org.springframework.expression.ParseException.class));
    }

    @Test
    void aNameAndAnExpressionTogetherFailTheStartup() {
        new ApplicationContextRunner().withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class))
                .withUserConfiguration(Both.class)
                .run(context -> assertThat(context).getFailure().rootCause()
                        .hasMessage("@Guarded on ResourceExpressionTests.BothShards.read(String) gives both a resource name ('a') and a"
                                + " resourceExpression (\"#shard\"): give one"));
    }

    private static RefRegistry registry(ApplicationContext context) {
        return context.getBean(RefRegistry.class);
    }

    @Configuration(proxyBeanMethods = false)
    static class Shards {

        @Bean
        ShardService shardService(RefRegistry registry) {
            for (String name : List.of("a", "b", "shard-7")) {
                registry.register(name, new Object(), r -> { });
            }
            return new ShardService(registry);
        }
    }

    record Tenant(String name) {
    }

    static class ShardService {

        private final List<String> calls = new CopyOnWriteArrayList<>();
        private final RefRegistry registry;

        ShardService(RefRegistry registry) {
            this.registry = registry;
        }

        @Guarded(resourceExpression = "#shard")
        public String read(String shard, String key) {
            this.calls.add(shard);
            return shard + ":" + key + " held " + inFlight(shard);
        }

        @Guarded(resourceExpression = "#p0")
        public String byPosition(String shard, String key) {
            return shard + ":" + key + " held " + inFlight(shard);
        }

        @Guarded(resourceExpression = "'shard-' + #number")
        public String numbered(int number) {
            return "shard-" + number + " held " + inFlight("shard-" + number);
        }

        @Guarded(resourceExpression = "#tenant.name")
        public String tenant(Tenant tenant) {
            return tenant.name();
        }

        @Guarded(resourceExpression = "#shard")
        public CompletableFuture<String> async(String shard, CompletableFuture<String> work) {
            return work;
        }

        @Guarded(resourceExpression = "#shard")
        public Mono<String> reactive(String shard) {
            return Mono.fromSupplier(() -> shard + " held " + inFlight(shard));
        }

        @Guarded(resourceExpression = "#shard", fallbackMethod = "fallback")
        public String withFallback(String shard) {
            return shard;
        }

        String fallback(String shard, ResourceUnavailableException refused) {
            return "fallback " + shard + ": " + refused.resourceName();
        }

        List<String> calls() {
            return this.calls;
        }

        private long inFlight(String name) {
            return this.registry.find(name).orElseThrow().info().inFlight();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Unparsable {

        @Bean
        BadShards badShards() {
            return new BadShards();
        }
    }

    static class BadShards {

        @Guarded(resourceExpression = "#shard +")
        public String read(String shard) {
            return shard;
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class Both {

        @Bean
        BothShards bothShards() {
            return new BothShards();
        }
    }

    static class BothShards {

        @Guarded(value = "a", resourceExpression = "#shard")
        public String read(String shard) {
            return shard;
        }
    }
}
