/// The keywords of syslog's PRI parts, as Vector and rsyslog's `syslogseverity-text`/`syslogfacility-text` spell them.
public enum SyslogNames {
    /// Severity 0 (emergency) to 7 (debug).
    public static let severities = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

    /// Facility 0 to 23; 13 to 15 are log audit, log alert and the clock daemon.
    public static let facilities = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp",
        "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
        "local7",
    ]
}
