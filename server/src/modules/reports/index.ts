/** The reports module's public surface. */
export { ReportsResolver } from './reports.resolver';
export { ReadAuditEntry } from './read-audit.entity';
export { ReadAuditRecorder, ReadAction, listReadAudit, type ReadAuditOptions, type Reader } from './read-audit';
export { ExportService, ExportStatus, type ExportRuntimeOptions } from './exports/exports.service';
export { exportDownloadRouter } from './exports/download';
export { RollupWorker, type RollupWorkerOptions } from './rollup-worker';
export { ReportService, ReportGroupBy, type PaymentReportSource, type ConversationReport, type WorkspaceUsage, type OrganizationUsage } from './reports.service';
export { REPORT_ROLLUP_TABLES } from './rollup-tables';
export { assertPeriod, MAX_PERIOD_DAYS, type Period } from './policy';
