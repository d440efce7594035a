package io.percpuref.examples.spring;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;

/**
 * The percpu-ref Spring Boot demo: {@code java -jar percpu-ref-example-spring-boot.jar}, then see
 * {@code docs/examples/spring-boot-demo.md}.
 *
 * <ul>
 *   <li>{@link Catalog}: a {@code @GuardedResource} file-backed store with {@code @Guarded} sync and
 *   async methods, closed as its release action ({@link CatalogController});</li>
 *   <li>{@link Shards}: more stores, registered and killed at run time through the demo API, leased
 *   programmatically ({@link ShardController});</li>
 *   <li>{@link Search}: a resource registered at run time; its {@code @Guarded} calls are refused
 *   until then, and observed per resource and outcome ({@code percpu_guarded_call_seconds_count});</li>
 *   <li>{@link RefRegistrySetup}: the starter's registry customized without replacing it;</li>
 *   <li>actuator {@code health}, {@code percpurefs} and {@code prometheus} on the application's port;</li>
 *   <li>{@link LoadGenerator}: bounded loopback load, with {@code --demo.load.enabled=true}.</li>
 * </ul>
 */
@SpringBootApplication
@EnableConfigurationProperties(DemoProperties.class)
public class DemoApplication {

    public static void main(String[] args) {
        SpringApplication.run(DemoApplication.class, args);
    }
}
