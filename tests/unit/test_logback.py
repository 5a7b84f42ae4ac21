"""Logger and thread fields as Spring Boot 3 (Logback 1.5) prints them.

The expected fields are copied from real Spring Boot 3 console output (startup, error and
shutdown lines seen in the framework's own guides and in users' logs) and from the Spring
Boot logging reference; the renderer passes real class names and lets ``_logback`` lay
them out, so these pin the layout to what the real software writes.
"""

from __future__ import annotations

import pytest

from rca.seed.renderers._logback import abbreviate, logger_field, thread_field

# Full class name -> the logger field as printed (trailing padding stripped).
REAL_FIELDS = {
    # The Spring Boot logging reference's sample line.
    "org.springframework.boot.docs.features.logexample.MyApplication": (
        "o.s.b.d.f.logexample.MyApplication"
    ),
    # Startup of any Spring Boot 3 web application on Tomcat.
    "org.springframework.boot.web.embedded.tomcat.TomcatWebServer": (
        "o.s.b.w.embedded.tomcat.TomcatWebServer"
    ),
    "org.apache.catalina.core.StandardService": "o.apache.catalina.core.StandardService",
    # 39 characters, yet abbreviated: Logback checks the budget only at each dot.
    "org.apache.catalina.core.StandardEngine": "o.apache.catalina.core.StandardEngine",
    "org.apache.catalina.core.ContainerBase.[Tomcat].[localhost].[/]": (
        "o.a.c.c.C.[Tomcat].[localhost].[/]"
    ),
    "org.springframework.boot.actuate.endpoint.web.EndpointLinksResolver": (
        "o.s.b.a.e.web.EndpointLinksResolver"
    ),
    # Longer than 40 even when abbreviated: cut from the left.
    "org.springframework.boot.autoconfigure.orm.jpa.JpaBaseConfiguration$JpaWebConfiguration": (
        "JpaBaseConfiguration$JpaWebConfiguration"
    ),
    "org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean": (
        "j.LocalContainerEntityManagerFactoryBean"
    ),
    "org.springframework.web.servlet.mvc.method.annotation.ExceptionHandlerExceptionResolver": (
        ".m.m.a.ExceptionHandlerExceptionResolver"
    ),
    # Errors and shutdown.
    "org.apache.catalina.core.ContainerBase.[Tomcat].[localhost].[/].[dispatcherServlet]": (
        "o.a.c.c.C.[.[.[/].[dispatcherServlet]"
    ),
    "org.hibernate.engine.jdbc.spi.SqlExceptionHelper": "o.h.engine.jdbc.spi.SqlExceptionHelper",
    "org.springframework.boot.web.embedded.tomcat.GracefulShutdown": (
        "o.s.b.w.e.tomcat.GracefulShutdown"
    ),
    # Short enough: untouched.
    "com.zaxxer.hikari.HikariDataSource": "com.zaxxer.hikari.HikariDataSource",
    "com.zaxxer.hikari.pool.HikariPool": "com.zaxxer.hikari.pool.HikariPool",
}


@pytest.mark.parametrize(("name", "printed"), REAL_FIELDS.items(), ids=list(REAL_FIELDS.values()))
def test_logger_field_is_what_spring_boot_prints(name: str, printed: str) -> None:
    field = logger_field(name)
    assert len(field) == 40
    assert field.rstrip() == printed


def test_short_names_and_names_without_packages_are_kept() -> None:
    assert abbreviate("com.example.orders.web.AccessLogFilter") == (
        "com.example.orders.web.AccessLogFilter"
    )
    assert abbreviate("AVeryLongClassNameWithoutAnyPackageAtAllInIt") == (
        "AVeryLongClassNameWithoutAnyPackageAtAllInIt"
    )


def test_only_as_many_packages_as_needed_are_cut() -> None:
    # 44 characters: "com" and "example" go, "orders" and "jobs" stay.
    assert abbreviate("com.example.orders.jobs.AbandonedCartSweeper") == (
        "c.e.orders.jobs.AbandonedCartSweeper"
    )
    # Exactly 39: the first segment goes, as for StandardEngine.
    assert abbreviate("com.example.orders.OrdersApiApplication") == (
        "c.example.orders.OrdersApiApplication"
    )


@pytest.mark.parametrize(
    ("thread", "printed"),
    [
        ("main", "           main"),
        ("scheduling-1", "   scheduling-1"),
        ("http-nio-8080-exec-7", "nio-8080-exec-7"),
        ("http-nio-8080-exec-10", "io-8080-exec-10"),
        ("HikariPool-1:housekeeper", "l-1:housekeeper"),
        ("SpringApplicationShutdownHook", "ionShutdownHook"),
    ],
)
def test_thread_field_is_right_aligned_and_cut_from_the_left(thread: str, printed: str) -> None:
    assert thread_field(thread) == printed
    assert len(thread_field(thread)) == 15
