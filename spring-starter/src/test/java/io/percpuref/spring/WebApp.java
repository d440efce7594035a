package io.percpuref.spring;

import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;

/** A web application with one guarded resource, for the embedded-server tests. */
@SpringBootConfiguration
@EnableAutoConfiguration
@Import(BackendController.class)
public class WebApp {

    @Bean
    TestBackend backend() {
        return new TestBackend();
    }
}
